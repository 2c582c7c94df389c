"""Helpers for the DB tests (the database fixtures themselves are in tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.db.factories import RequestFactory, build_request


@pytest.fixture
def make_request() -> RequestFactory:
    return build_request
