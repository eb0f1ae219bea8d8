"""Protocol-faithful local fakes of the three vendors' code-execution APIs (see each module)."""
