"""making: prompt -> script -> files. The entry point (make), the attempt loop, judging, repair,
hints, failures, sessions' turns and replays, the vendor-engine loop; autofix/ below it.
May import engines, llm, records, checks, sandbox and the bottom; only cli, server and
client may import it.
"""
