"""`python -m bot` — the same as `uv run rollbot`."""

from bot.app import run

run()
