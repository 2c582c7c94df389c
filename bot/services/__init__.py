"""The rollback workflow and access rules. Nothing here imports discord."""
