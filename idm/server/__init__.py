"""The embedded OpenLDAP server: render cn=config from `ldif/`, initialise, start and stop."""
