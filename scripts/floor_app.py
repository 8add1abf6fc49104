"""The benchmark's floor: the least a Python service can do for the same answers (issue 6).

Starlette + asyncpg, no ORM. `GET /builds/{id}/resume-context` is ONE SQL statement that builds
the whole JSON inside PostgreSQL; `POST /builds/{id}/artifacts` is ONE statement (an INSERT of the
artifact plus its audit event row in a data-modifying CTE: the service must write the event row
too, so the floor does). `X-API-Key` is checked against `api_keys` with a 30-second cache.
With --count-sql every answer says `X-SQL-Statements: N`, as the service's does.

    python scripts/floor_app.py --database-url postgres://postgres@127.0.0.1:5432/DB --port 8099
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
import uuid
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

MASK = "******"
OPEN = ("pending", "triggered", "running")
KEY_TTL = 30.0

ARTIFACT_JSON = """json_build_object(
    'id', {a}.id, 'artifact_name', {a}.artifact_name, 'artifact_type', {a}.artifact_type,
    'state_code', {a}.state_code, 'artifact_path', {a}.artifact_path,
    'storage_backend', {a}.storage_backend, 'storage_region', {a}.storage_region,
    'storage_bucket', {a}.storage_bucket, 'storage_key', {a}.storage_key,
    'size_bytes', {a}.size_bytes, 'checksum', {a}.checksum,
    'checksum_algorithm', {a}.checksum_algorithm, 'is_resumable', {a}.is_resumable,
    'is_final', {a}.is_final, 'expires_at', {a}.expires_at, 'metadata', {a}.metadata,
    'created_at', {a}.created_at, 'updated_at', {a}.updated_at)"""

# One statement: the build, its open resume request, the resume target, usable artifacts,
# masked variables, the target's config, what it needs that is missing, and why.
RESUME_CONTEXT_SQL = f"""
WITH b AS (
    SELECT id, project_id, status, current_state, last_successful_state, failed_state
    FROM builds WHERE id = $1
), t AS (
    SELECT b.*, rr.resume_from_state IS NOT NULL AS has_open,
           COALESCE(rr.resume_from_state, b.failed_state,
                    (SELECT min(sc.code) FROM state_codes sc
                     WHERE sc.project_id = b.project_id AND sc.code > b.last_successful_state),
                    b.current_state) AS resume_from
    FROM b LEFT JOIN LATERAL (
        SELECT resume_from_state FROM resume_requests r
        WHERE r.build_id = b.id AND r.status IN ('pending', 'triggered', 'running') LIMIT 1
    ) rr ON true
), cfg AS (
    SELECT rs.* FROM resumable_states rs JOIN t
      ON rs.project_id = t.project_id AND rs.state_code = t.resume_from
), arts AS (
    SELECT a.artifact_name, a.artifact_type, a.deleted_at, a.expires_at,
           a.deleted_at IS NULL AND a.is_resumable
           AND (a.expires_at IS NULL OR a.expires_at > now()) AS usable
    FROM build_artifacts a WHERE a.build_id = $1
), vars AS (
    SELECT variable_key, variable_value, is_sensitive FROM build_variables WHERE build_id = $1
), ma AS (
    SELECT r.w, r.ord,
           CASE WHEN NOT EXISTS (SELECT 1 FROM arts WHERE r.w IN (artifact_name, artifact_type))
                  THEN 'required artifact ''' || r.w || ''' was never registered'
                WHEN NOT EXISTS (SELECT 1 FROM arts WHERE r.w IN (artifact_name, artifact_type)
                                 AND deleted_at IS NULL)
                  THEN 'required artifact ''' || r.w || ''' was deleted'
                WHEN EXISTS (SELECT 1 FROM arts WHERE r.w IN (artifact_name, artifact_type)
                             AND expires_at <= now())
                  THEN 'required artifact ''' || r.w || ''' has expired'
                ELSE 'required artifact ''' || r.w || ''' is not marked resumable' END AS reason
    FROM cfg, jsonb_array_elements_text(cfg.required_artifacts) WITH ORDINALITY AS r(w, ord)
    WHERE NOT EXISTS (SELECT 1 FROM arts WHERE usable AND r.w IN (artifact_name, artifact_type))
), mv AS (
    SELECT r.k, r.ord
    FROM cfg, jsonb_array_elements_text(cfg.required_variables) WITH ORDINALITY AS r(k, ord)
    WHERE NOT EXISTS (SELECT 1 FROM vars WHERE variable_key = r.k)
), blockers AS (
    SELECT 0 AS grp, 0::bigint AS ord,
           'build is ' || t.status || '; only failed or cancelled builds can be resumed' AS reason
    FROM t WHERE NOT t.has_open AND t.status NOT IN ('failed', 'cancelled')
    UNION ALL
    SELECT 1, 0, 'state ' || cfg.state_code || ' is configured as not resumable'
    FROM cfg WHERE NOT cfg.is_resumable
    UNION ALL SELECT 2, ord, reason FROM ma
    UNION ALL SELECT 3, ord, 'required variable ''' || k || ''' is not set' FROM mv
)
SELECT json_build_object(
    'build_id', t.id,
    'current_state', t.current_state,
    'last_successful_state', t.last_successful_state,
    'failed_state', t.failed_state,
    'resume_from_state', t.resume_from,
    'artifacts', COALESCE((SELECT json_agg({ARTIFACT_JSON.format(a="a")} ORDER BY a.state_code, a.created_at)
                           FROM build_artifacts a
                           WHERE a.build_id = $1 AND a.deleted_at IS NULL AND a.is_resumable
                             AND (a.expires_at IS NULL OR a.expires_at > now())), '[]'::json),
    'variables', COALESCE((SELECT json_object_agg(v.variable_key,
                                  CASE WHEN v.is_sensitive THEN '{MASK}' ELSE v.variable_value END
                                  ORDER BY v.variable_key) FROM vars v), '{{}}'::json),
    'resumable_state_config', (SELECT json_build_object(
        'id', c.id, 'project_id', c.project_id, 'state_code', c.state_code,
        'is_resumable', c.is_resumable, 'resume_strategy', c.resume_strategy,
        'required_artifacts', c.required_artifacts, 'required_variables', c.required_variables,
        'resume_command', c.resume_command, 'resume_timeout_seconds', c.resume_timeout_seconds,
        'description', c.description, 'notes', c.notes,
        'created_at', c.created_at, 'updated_at', c.updated_at) FROM cfg c),
    'missing_artifacts', COALESCE((SELECT json_agg(w ORDER BY ord) FROM ma), '[]'::json),
    'missing_variables', COALESCE((SELECT json_agg(k ORDER BY ord) FROM mv), '[]'::json),
    'can_resume', NOT EXISTS (SELECT 1 FROM blockers),
    'blockers', COALESCE((SELECT json_agg(reason ORDER BY grp, ord) FROM blockers), '[]'::json)
)::text
FROM t
"""

# One statement: the artifact row and the audit event row of the change, in one transaction.
REGISTER_ARTIFACT_SQL = f"""
WITH b AS (SELECT id, project_id FROM builds WHERE id = $1),
ins AS (
    INSERT INTO build_artifacts (
        id, build_id, state_code, artifact_name, artifact_type, artifact_path, storage_backend,
        storage_region, storage_bucket, storage_key, size_bytes, checksum, checksum_algorithm,
        is_resumable, is_final, expires_at, metadata, version, deleted_at, created_at, updated_at)
    SELECT $2, b.id, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17::jsonb,
           1, NULL, now(), now()
    FROM b
    RETURNING *
), ev AS (
    INSERT INTO events (created_at, actor, action, target_type, target_id, project_id, build_id,
                        request_id, data)
    SELECT now(), $18, 'artifact.registered', 'artifact', ins.id::text, b.project_id, ins.build_id,
           NULL, jsonb_build_object('after', jsonb_build_object(
               'artifact_name', ins.artifact_name, 'artifact_type', ins.artifact_type,
               'state_code', ins.state_code, 'artifact_path', ins.artifact_path))
    FROM ins, b
)
SELECT {ARTIFACT_JSON.format(a="ins")}::text FROM ins
"""

KEY_SQL = "SELECT name, scopes::text FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"

_keys: dict[str, tuple[float, str | None, frozenset[str]]] = {}
_statements: ContextVar[list[int] | None] = ContextVar("floor_statements", default=None)


def _sent() -> None:
    """One statement sent (for --count-sql)."""
    counter = _statements.get()
    if counter is not None:
        counter[0] += 1


class CountSql:
    """Pure ASGI: `X-SQL-Statements` on every answer."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        counter = [0]
        token = _statements.set(counter)

        async def send_with_count(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []),
                                      (b"x-sql-statements", str(counter[0]).encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_count)
        finally:
            _statements.reset(token)


def _json(status: int, body: Any) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


async def _principal(request: Request, scope: str) -> tuple[str | None, Response | None]:
    """(actor name, error response): the X-API-Key, looked up at most every KEY_TTL seconds."""
    key = request.headers.get("x-api-key")
    if not key:
        return None, _json(401, {"detail": "Not authenticated"})
    digest = hashlib.sha256(key.encode()).hexdigest()
    now = time.monotonic()
    hit = _keys.get(digest)
    if hit is None or hit[0] < now:
        _sent()
        row = await request.app.state.pool.fetchrow(KEY_SQL, digest)
        hit = (now + KEY_TTL, row["name"] if row else None,
               frozenset(orjson.loads(row["scopes"])) if row else frozenset())
        _keys[digest] = hit
    _, name, scopes = hit
    if name is None:
        return None, _json(401, {"detail": "Invalid API key"})
    if scope not in scopes and "admin" not in scopes:
        return None, _json(403, {"detail": f"the '{scope}' scope is required"})
    return f"apikey:{name}", None


def _build_id(request: Request) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.path_params["build_id"])
    except ValueError:
        return None


async def resume_context(request: Request) -> Response:
    _, error = await _principal(request, "read")
    if error:
        return error
    build_id = _build_id(request)
    if build_id:
        _sent()
    body = await request.app.state.pool.fetchval(RESUME_CONTEXT_SQL, build_id) if build_id else None
    if body is None:
        return _json(404, {"detail": f"build '{request.path_params['build_id']}' not found"})
    return Response(body.encode(), media_type="application/json")


REQUIRED = {"state_code": int, "artifact_name": str, "artifact_type": str, "artifact_path": str}


async def register_artifact(request: Request) -> Response:
    actor, error = await _principal(request, "write")
    if error:
        return error
    build_id = _build_id(request)
    if build_id is None:
        return _json(404, {"detail": f"build '{request.path_params['build_id']}' not found"})
    try:
        data = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return _json(422, {"detail": "body is not JSON"})
    if not isinstance(data, dict):
        return _json(422, {"detail": "body must be an object"})
    bad = [k for k, t in REQUIRED.items() if not isinstance(data.get(k), t)]
    if bad:
        return _json(422, {"detail": [{"loc": ["body", k], "msg": "field required"} for k in bad]})
    try:
        expires_at = datetime.fromisoformat(data["expires_at"]) if data.get("expires_at") else None
    except (TypeError, ValueError):
        return _json(422, {"detail": [{"loc": ["body", "expires_at"], "msg": "not a datetime"}]})
    try:
        _sent()
        body = await request.app.state.pool.fetchval(
            REGISTER_ARTIFACT_SQL, build_id, uuid.uuid4(), data["state_code"], data["artifact_name"],
            data["artifact_type"], data["artifact_path"], data.get("storage_backend"),
            data.get("storage_region"), data.get("storage_bucket"), data.get("storage_key"),
            data.get("size_bytes"), data.get("checksum"), data.get("checksum_algorithm") or "sha256",
            data.get("is_resumable", True), data.get("is_final", False), expires_at,
            orjson.dumps(data.get("metadata") or {}).decode(), actor,
        )
    except asyncpg.UniqueViolationError:
        return _json(409, {"detail": f"artifact '{data['artifact_name']}' already exists in this build"})
    if body is None:
        return _json(404, {"detail": f"build '{build_id}' not found"})
    return Response(body.encode(), status_code=201, media_type="application/json")


async def health(request: Request) -> Response:
    return _json(200, {"status": "ok"})


async def _no_reset(conn: asyncpg.Connection) -> None:
    return None


def create_app(database_url: str | None = None, *, count_sql: bool = False) -> Any:
    url = (database_url or os.environ["FLOOR_DATABASE_URL"]).replace("postgres://", "postgresql://", 1)

    @asynccontextmanager
    async def lifespan(app: Starlette):
        # No per-release reset (asyncpg's default sends 4 statements on every release): the floor
        # never leaves session state behind (no LISTEN, advisory locks, cursors or SETs).
        # Generic plans: the resume-context statement costs ~4 ms to plan.
        app.state.pool = await asyncpg.create_pool(
            url, min_size=2, max_size=20, reset=_no_reset,
            server_settings={"timezone": "UTC", "plan_cache_mode": "force_generic_plan"},
        )
        try:
            yield
        finally:
            await app.state.pool.close()

    app = Starlette(
        routes=[
            Route("/health", health),
            Route("/builds/{build_id}/resume-context", resume_context),
            Route("/builds/{build_id}/artifacts", register_artifact, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    return CountSql(app) if count_sql else app


def main() -> None:
    import uvicorn

    ap = argparse.ArgumentParser(description="benchmark floor app")
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--port", type=int, default=8099)
    ap.add_argument("--access-log", action="store_true")
    ap.add_argument("--count-sql", action="store_true", help="answer with X-SQL-Statements")
    args = ap.parse_args()
    uvicorn.run(create_app(args.database_url, count_sql=args.count_sql), host="127.0.0.1", port=args.port,
                log_level="warning", access_log=args.access_log)


if __name__ == "__main__":
    main()
