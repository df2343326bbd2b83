"""The one SQL-analysis library: placeholders, locating, name resolution, keys, facts, lineage, formatting.

It imports nothing from `gates/`, `testgen/` or `run/`: every stage that asks a question about a
proposal's SQL asks it here.
"""
