"""Staff accounts, bearer tokens, API keys and roles (deny by default)."""
