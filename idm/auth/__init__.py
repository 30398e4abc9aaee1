"""Signing in: the password policy, the sign-in steps, the second factor, server-side sessions,
self-service password change.
"""
