"""The webhook sender: `python -m app.workers.webhook_sender`.

Tails the event log (the outbox), creates deliveries for matching subscriptions and delivers
them signed, with retries. Several senders may run on PostgreSQL: the cursor row is locked
while fanning out and each delivery is leased before it is sent.
"""

from __future__ import annotations

import asyncio
import logging

from app.database import close_db, init_db
from app.services.orchestration.runtime import new_http_client, worker_name
from app.services.webhook_delivery import Sender
from app.settings import Settings, get_settings
from app.workers.loop import Loop, install_signal_handlers, run_loops

log = logging.getLogger("buildstate.webhooks")


def build_loop(sender: Sender) -> Loop:
    async def step() -> bool:
        return await sender.step() > 0

    settings = sender.settings
    return Loop("webhook-sender", step, idle_seconds=settings.webhook_idle_seconds,
                timeout_seconds=settings.webhook_timeout_seconds * 10 + 60,
                on_stop=sender.release,
                max_outage_backoff_seconds=settings.worker_outage_backoff_seconds)


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """Run the sender until `stop` is set (the ORM must be started)."""
    async with new_http_client() as http:
        sender = Sender(settings=settings, http=http, worker=worker_name("webhook-sender"))
        log.info("webhook sender %s started", sender.worker)
        await run_loops([build_loop(sender)], stop)
        log.info("webhook sender %s stopped", sender.worker)


async def main_async(settings: Settings) -> None:
    await init_db(settings)
    stop = asyncio.Event()
    install_signal_handlers(stop)
    try:
        await serve(settings, stop)
    finally:
        await close_db()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per CI call is too much
    asyncio.run(main_async(get_settings()))


if __name__ == "__main__":
    main()
