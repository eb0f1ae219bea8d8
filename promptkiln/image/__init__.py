"""image: building the sandbox image (online or offline, from images/) and the E2B template.
May import sandbox and the bottom (config, errors); imported by cli, server and bundle, never
by sandbox, llm, records or checks.
"""
