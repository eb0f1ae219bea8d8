"""cli: the ``promptkiln`` command line. main.py holds the app and the run/make/doctor commands,
one module per command group (admin, bundle, mcp, sessions, server, ...), common.py what they
share. The top room: may import every other room; nothing imports it.
"""
