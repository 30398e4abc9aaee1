"""The local operator's tools: the embedded slapd and its configuration, TLS, replication, backups,
the first accounts.
"""
