"""autofix: deterministic fixes to a generated script before it runs (names, brackets, JSON
dumps, pixel sizes). Pure functions over source text: may import only the bottom (errors);
used by the attempt loop in making/.
"""
