"""The `idm` command line: a thin click adapter over the `idm` package."""
