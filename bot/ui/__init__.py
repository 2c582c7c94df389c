"""Discord rendering: pure embed/text builders and the persistent Confirm/Cancel buttons."""
