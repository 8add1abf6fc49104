"""Reading the audit trail."""

from __future__ import annotations

from app.services.actor import Actor
from app.services.builds import get_build
from db.models import Event


async def build_events(
    *, actor: Actor, build_id: str, limit: int = 100, after_id: int | None = None
) -> list[Event]:
    """A build's events, oldest first; `after_id` continues from a previous page."""
    actor.require("read")
    build = await get_build(actor=actor, build_id=build_id)
    query = Event.filter(build_id=build.id)
    if after_id is not None:
        query = query.filter(id__gt=after_id)
    return await query.order_by("id").limit(limit)
