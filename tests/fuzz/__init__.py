"""Property / fuzz tests of the real Discord dispatch (hypothesis over the harness)."""
