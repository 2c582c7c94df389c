"""Audit storage: SQLModel tables, async engine, and the audit repository."""
