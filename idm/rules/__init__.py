"""Who may do what: the permission table, the slapd access rules generated from it, the Python pre-
check and its documentation.
"""
