"""Shared by the observability tests: the process-wide event hub never outlives a test."""

from __future__ import annotations

import pytest

from app.services import live


@pytest.fixture(autouse=True)
async def _stop_event_hub():
    yield
    await live.hub.stop()
