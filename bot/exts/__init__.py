"""Thin Discord cogs over the service layer."""
