"""The administrative tree (R1, R2): org units by official code, and the delegation of a school to
its parent.
"""
