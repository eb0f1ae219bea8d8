"""records: what is kept: the store (SQLite or PostgreSQL), its dialect and migrations, the
hash chain of run records, blobs, and building a run's record.
May import only the bottom (config, errors, version); never sandbox, llm, making, engines,
cli or server.
"""
