"""idm: identity management for education authorities on OpenLDAP.

The package is the domain: it knows the directory and the rules, and nothing of the web or
command-line transports that call it (`webui/`, `idm_cli/`).
"""

__version__ = "0.1.0"
