"""HTTP client for the buildstate service: auth header, retries with backoff, one-line errors.

Retry policy (BLDST_RETRIES extra attempts, default 3; exponential backoff starting at
BLDST_BACKOFF seconds, default 0.5):
- reads (GET, and GraphQL queries) are retried on any transport error and on 502/503/504;
- writes are retried only when the request provably never reached the service (connect errors,
  connect/pool timeouts) or on 502/503/504, always with the same `Idempotency-Key`, so a retried
  write is applied at most once by a service that honours the key.
Exhausted retries and unanswered writes exit with code 3; error answers exit with code 1.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from app.cli import version
from app.cli.config import Settings
from app.cli.errors import (
    ServiceError,
    UnreachableError,
    render_detail,
    render_graphql_errors,
)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_STATUSES = frozenset({502, 503, 504})
# Raised before a single byte of the request left this machine: safe to retry any method.
NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class _RetryableStatus(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def _display_url(url: str) -> str:
    parsed = httpx.URL(url)
    return str(parsed.copy_with(username=None, password=None)) if parsed.userinfo else url


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip().splitlines()
        return (text[0][:200] if text else "") or response.reason_phrase or "error"
    if isinstance(body, dict):
        if "detail" in body:
            return render_detail(body["detail"]) or response.reason_phrase
        if body.get("errors"):
            return render_graphql_errors(body["errors"])
    return render_detail(body) or response.reason_phrase


def _transport_reason(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Client:
    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.base_url = settings.api_url
        headers = {"User-Agent": f"bldst/{version()}", "Accept": "application/json"}
        self._key_header = {"X-API-Key": settings.api_key} if settings.api_key else {}
        self._http = httpx.Client(
            base_url=settings.api_url,
            timeout=settings.timeout,
            headers=headers,
            transport=transport,
        )
        self._sleep = sleep

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        auth: bool = True,
        idempotent: bool | None = None,
    ) -> Any:
        """Send one logical request (retried per the policy above); return the decoded JSON."""
        method = method.upper()
        safe = method in SAFE_METHODS if idempotent is None else idempotent
        headers = dict(self._key_header) if auth else {}
        if method not in SAFE_METHODS:
            # One key per logical write, reused by each of its retries.
            headers["Idempotency-Key"] = str(uuid.uuid4())
        query = {k: _param(v) for k, v in (params or {}).items() if v is not None}

        def attempt() -> httpx.Response:
            response = self._http.request(method, path, params=query, json=json, headers=headers)
            if response.status_code in RETRY_STATUSES:
                raise _RetryableStatus(response)
            return response

        def should_retry(exc: BaseException) -> bool:
            if isinstance(exc, (_RetryableStatus, *NOT_SENT_ERRORS)):
                return True
            return safe and isinstance(exc, httpx.TransportError)

        attempts = self.settings.retries + 1
        backoff = self.settings.backoff
        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=wait_exponential_jitter(multiplier=backoff, max=max(backoff * 16, backoff), jitter=backoff),
            retry=retry_if_exception(should_retry),
            sleep=self._sleep,
            reraise=True,
        )
        where = _display_url(self.base_url)
        try:
            response = retrying(attempt)
        except _RetryableStatus as exc:
            status = exc.response.status_code
            raise UnreachableError(
                f"buildstate at {where} is unavailable: HTTP {status} {_error_message(exc.response)}"
                f" (gave up after {attempts} attempt{'s' if attempts > 1 else ''})"
            ) from None
        except NOT_SENT_ERRORS as exc:
            raise UnreachableError(
                f"cannot reach buildstate at {where}: {_transport_reason(exc)}"
                f" (gave up after {attempts} attempt{'s' if attempts > 1 else ''})"
            ) from None
        except httpx.UnsupportedProtocol:
            raise UnreachableError(f"unsupported API URL {where}") from None
        except httpx.TransportError as exc:
            if safe:
                raise UnreachableError(
                    f"no answer from buildstate at {where}: {_transport_reason(exc)}"
                    f" (gave up after {attempts} attempt{'s' if attempts > 1 else ''})"
                ) from None
            raise UnreachableError(
                f"no answer from buildstate at {where} to {method} {path}: {_transport_reason(exc)};"
                f" the change may or may not have been applied"
                f" (Idempotency-Key {headers['Idempotency-Key']})"
            ) from None
        return self._decode(response)

    def _decode(self, response: httpx.Response) -> Any:
        if response.is_success:
            if response.status_code == 204 or not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise ServiceError("the service answered with something that is not JSON", response.status_code) from None
        message = _error_message(response)
        if response.status_code == 401 and "X-API-Key" not in self._key_header:
            message += " (no API key configured: use --api-key, BLDST_API_KEY or `bldst config set api_key KEY`)"
        raise ServiceError(message, response.status_code)

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, json=body)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, json=body)

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, json=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run a GraphQL query (a read: retried like a GET); raise on any GraphQL error."""
        body = self.request(
            "POST", "/graphql", json={"query": query, "variables": variables or {}}, idempotent=True
        )
        if not isinstance(body, dict):
            raise ServiceError("the GraphQL endpoint answered with something unexpected")
        if body.get("errors"):
            raise ServiceError(render_graphql_errors(body["errors"]))
        data = body.get("data")
        if not isinstance(data, dict):
            raise ServiceError("the GraphQL endpoint answered without data")
        return data


def _param(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
