"""The evidence an assessor takes away (等保 level 3, 密评): the pack, its manifest and checks."""
