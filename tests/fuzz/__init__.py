"""Property / fuzz tests of the real Discord dispatch (hypothesis over `tests/discord/harness.py`)."""
