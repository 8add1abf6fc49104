"""schema.app.read_body against Starlette's Request.body: the same bytes, or the same error, for
the message sequences an ASGI server may deliver (whole, chunked, empty, interrupted)."""

from __future__ import annotations

import pytest
from starlette.requests import ClientDisconnect, Request

from schema.app import read_body

REQUEST = "http.request"
SEQUENCES = {
    "whole": [{"type": REQUEST, "body": b'{"query": "{ a }"}', "more_body": False}],
    "no more_body key": [{"type": REQUEST, "body": b"{}"}],
    "no body key": [{"type": REQUEST, "more_body": False}],
    "empty": [{"type": REQUEST, "body": b"", "more_body": False}],
    "chunked": [{"type": REQUEST, "body": b'{"query"', "more_body": True},
                {"type": REQUEST, "body": b"", "more_body": True},
                {"type": REQUEST, "body": b': "{ a }"}', "more_body": False}],
    "empty last chunk": [{"type": REQUEST, "body": b"{}", "more_body": True},
                         {"type": REQUEST, "body": b"", "more_body": False}],
    "an unknown message between chunks": [
        {"type": REQUEST, "body": b"[", "more_body": True}, {"type": "http.other"},
        {"type": REQUEST, "body": b"]", "more_body": False}],
    "disconnect first": [{"type": "http.disconnect"}],
    "disconnect after a chunk": [{"type": REQUEST, "body": b"{", "more_body": True},
                                 {"type": "http.disconnect"}],
}


def _receive(messages: list[dict]):
    queue = list(messages)

    async def receive() -> dict:
        return queue.pop(0)

    return receive, queue


async def _outcome(read, messages: list[dict]):
    receive, queue = _receive(messages)
    try:
        result = await read(receive)
    except ClientDisconnect:
        result = ClientDisconnect
    return result, len(queue)  # also: both stop reading at the same message


async def _starlette(receive) -> bytes:
    return await Request({"type": "http", "method": "POST", "headers": []}, receive).body()


@pytest.mark.parametrize("name", SEQUENCES)
async def test_read_body_reads_as_request_body(name: str) -> None:
    messages = SEQUENCES[name] + [{"type": REQUEST, "body": b"never read", "more_body": False}]
    assert await _outcome(read_body, messages) == await _outcome(_starlette, messages)
