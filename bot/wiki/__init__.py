"""MediaWiki Action API client: login, tokens, rollback, preview, typed errors."""
