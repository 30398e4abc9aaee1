"""Directory access: connections, DN and filter builders, and the one place that maps LDAP
errors to the toolkit's public errors."""
