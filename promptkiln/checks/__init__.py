"""What the platform proves about the files: validation, facts, plan checks, content checks."""
