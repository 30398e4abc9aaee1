"""Accounts and the people behind them: admin and business accounts, ID numbers, passwords, grants,
post accounts, downstream service accounts.
"""
