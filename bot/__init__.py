"""rollbot: roll back MediaWiki vandalism from Discord, on the record."""
