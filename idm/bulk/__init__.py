"""Bulk loads (`idm load`, `idm org import`): read, plan, then write online or offline."""
