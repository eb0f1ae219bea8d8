"""checks: is the file what was asked? Validation (it opens), facts (what it contains), the
prompt's stated requirements and the advice that goes back to the model.
May import sandbox and the bottom (config, errors, plan, limits); never making, engines, cli
or server.
"""
