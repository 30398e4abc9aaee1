"""What the auditors and reviewers work with: the write log, its seals, and the six-monthly access
reviews (R6, R16).
"""
