"""Operator commands: `python -m app.manage migrate | prepare | create-key | revoke-key`."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from app.database import close_db, init_db
from app.services.actor import SYSTEM
from app.services.keys import create_key, ensure_demo_keys, revoke_key
from app.settings import get_settings
from db.migrate import migrate as apply_migrations

cli = typer.Typer(help="buildstate operator commands", no_args_is_help=True)


def _run(coro) -> None:
    asyncio.run(coro)


@cli.command()
def migrate() -> None:
    """Apply pending migrations to BUILDSTATE_DATABASE_URL."""
    applied = asyncio.run(apply_migrations(get_settings().database_url))
    typer.echo(f"migrations applied: {', '.join(applied) if applied else 'none (up to date)'}")


@cli.command()
def prepare() -> None:
    """Migrate, and in development create the demo keys (idempotent: safe to run again)."""
    settings = get_settings()
    applied = asyncio.run(apply_migrations(settings.database_url))
    typer.echo(f"migrations applied: {', '.join(applied) if applied else 'none (up to date)'}")
    if settings.is_production:
        typer.echo("production: no demo keys are created")
        return

    async def demo() -> list[str]:
        await init_db(settings)
        try:
            return await ensure_demo_keys(settings)
        finally:
            await close_db()

    created = asyncio.run(demo())
    typer.echo(f"demo keys: {'created ' + ', '.join(created) if created else 'already present'}")


@cli.command("create-key")
def create_key_cmd(
    name: str,
    scopes: Annotated[list[str], typer.Option("--scope", help="read, write or admin")] = ["read"],
) -> None:
    """Create a named API key and print it once."""

    async def go() -> str:
        await init_db(get_settings())
        try:
            return (await create_key(actor=SYSTEM, name=name, scopes=scopes)).plain
        finally:
            await close_db()

    typer.echo(asyncio.run(go()))


@cli.command("revoke-key")
def revoke_key_cmd(key_id: str) -> None:
    """Revoke an API key by id."""

    async def go() -> None:
        await init_db(get_settings())
        try:
            await revoke_key(actor=SYSTEM, key_id=key_id)
        finally:
            await close_db()

    asyncio.run(go())
    typer.echo("revoked")


if __name__ == "__main__":
    cli()
