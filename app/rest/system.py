"""Health, readiness, tokens and API keys."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from app.database import ping
from app.rest.deps import Admin, Reader, public
from app.rest.schemas import ApiKeyOut, CreatedKeyOut, TokenOut
from app.services import keys

router = APIRouter()


@router.get("/health", tags=["System"], dependencies=[Depends(public)])
async def health():
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/ready", tags=["System"], dependencies=[Depends(public)],
            responses={503: {"description": "The database does not answer"}})
async def ready():
    """Readiness: the database answers."""
    try:
        await ping()
    except Exception as exc:  # any failure to reach the database means "not ready"
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable", "detail": type(exc).__name__},
            status_code=503, headers={"Retry-After": "2"},
        )
    return {"status": "ok", "database": "ok"}


@router.post("/auth/token", response_model=TokenOut, tags=["Auth"])
async def token(request: Request, actor: Reader):
    """Trade the presented API key for a short-lived JWT carrying its scopes."""
    issued = keys.issue_token(actor, request.app.state.settings)
    return TokenOut(access_token=issued.access_token, token_type=issued.token_type,
                    expires_in=issued.expires_in)


class CreateKeyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")
    scopes: list[Literal["read", "write", "admin"]] = Field(min_length=1)


@router.post("/auth/keys", status_code=201, response_model=CreatedKeyOut, tags=["Auth"])
async def create_key(body: CreateKeyBody, actor: Admin):
    """Create a named API key (admin); the key is shown once."""
    created = await keys.create_key(actor=actor, name=body.name, scopes=body.scopes)
    return CreatedKeyOut(**ApiKeyOut.model_validate(created.key).model_dump(), key=created.plain)


@router.get("/auth/keys", response_model=list[ApiKeyOut], tags=["Auth"])
async def list_keys(actor: Admin):
    """List API keys (never the keys themselves)."""
    return await keys.list_keys(actor=actor)


@router.delete("/auth/keys/{key_id}", response_model=ApiKeyOut, tags=["Auth"])
async def revoke_key(key_id: str, actor: Admin):
    """Revoke an API key (admin)."""
    return await keys.revoke_key(actor=actor, key_id=key_id)
