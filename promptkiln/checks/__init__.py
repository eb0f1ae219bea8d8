"""Checks of what a made file holds and of what the model planned: validation, facts,
the inputs' profile, the plan's checks against it."""
