"""The orchestrator and the webhook sender inside the API process (BUILDSTATE_ORCHESTRATOR=embedded)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from app.settings import Settings
from app.workers import orchestrator, webhook_sender

log = logging.getLogger("buildstate.workers")


@dataclass
class Embedded:
    stop: asyncio.Event
    task: asyncio.Task

    async def close(self, timeout: float = 20.0) -> None:
        """Let the current iterations finish and leases be released, then stop."""
        self.stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout)
        except (asyncio.TimeoutError, Exception) as exc:  # noqa: BLE001 - shutting down
            log.warning("embedded workers did not stop cleanly: %s", exc)
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task


def start_embedded(settings: Settings) -> Embedded | None:
    """Start both loops as background tasks when the settings ask for it (ORM already up)."""
    if settings.orchestrator != "embedded":
        return None
    stop = asyncio.Event()

    async def both() -> None:
        await asyncio.gather(
            orchestrator.serve(settings, stop), webhook_sender.serve(settings, stop)
        )

    return Embedded(stop=stop, task=asyncio.create_task(both(), name="embedded-workers"))
