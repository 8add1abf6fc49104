"""The published schema of a stripped text: `minLength` 1 means a character the strip keeps.

Commands strip surrounding whitespace (pydantic's `str_strip_whitespace`) before their length
rules, so "\\t" is refused as a name. The schema says so with `NOT_BLANK` (a pattern); these
tests hold the pattern to the strip, character by character, and check that every such field
of the OpenAPI document carries it (a schema-driven fuzzer found the gap: "\\t" sent as a
schema-valid name, answered 422).
"""

from __future__ import annotations

import re
import sys
from typing import Annotated

import pytest
from pydantic import StringConstraints, TypeAdapter, ValidationError

from app.main import create_app
from app.services.commands import NOT_BLANK, kept_at_least

def _stripped(n: int) -> TypeAdapter:
    return TypeAdapter(Annotated[str, StringConstraints(strip_whitespace=True, min_length=n)])


STRIPPED_TEXT = _stripped(1)


def _kept_by_strip(ch: str, adapter: TypeAdapter = STRIPPED_TEXT) -> bool:
    try:
        adapter.validate_python(ch)
    except ValidationError:
        return False
    return True


def test_the_pattern_is_the_strip_for_every_character() -> None:
    pattern = re.compile(NOT_BLANK)
    disagree = [
        hex(cp) for cp in range(sys.maxunicode + 1)
        if not 0xD800 <= cp <= 0xDFFF  # surrogates are no text
        and (pattern.search(chr(cp)) is not None) != _kept_by_strip(chr(cp))
    ]
    assert disagree == []


@pytest.mark.parametrize("text, valid", [("\t", False), (" \u3000\n", False), (" a ", True),
                                          ("\x1c", True), ("\ufeff", True)])
def test_examples(text: str, valid: bool) -> None:
    assert (re.search(NOT_BLANK, text) is not None) is valid
    assert _kept_by_strip(text) is valid


@pytest.mark.parametrize("n", [2, 3, 16])
def test_longer_minimums_count_from_the_first_kept_character_to_the_last(n: int) -> None:
    # Every string of up to n + 2 characters over an alphabet of kept and stripped ones.
    adapter, pattern = _stripped(n), re.compile(kept_at_least(n))
    alphabet, texts = ["a", " ", "\u3000", "\x1c"], [""]
    for _ in range(min(n + 2, 7)):
        texts = texts + [t + c for t in texts for c in alphabet if len(t) < n + 2]
    texts = sorted(set(texts)) + [" " + "a" * (n - 1) + " ", "a" + " " * (n - 2) + "a", "a" * n]
    disagree = [t for t in texts
                if (pattern.search(t) is not None) != _kept_by_strip(t, adapter)]
    assert disagree == []


def _strings(node: object, path: str = ""):
    if isinstance(node, dict):
        if node.get("type") == "string":
            yield path, node
        for key, value in node.items():
            yield from _strings(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, f"{path}/{index}")


def test_every_required_text_of_a_request_body_says_it() -> None:
    document = create_app(manage_db=False).routes[-1].app.openapi()  # the REST mount's FastAPI
    schemas = document["components"]["schemas"]
    checked = []
    for name, schema in schemas.items():
        for path, node in _strings(schema, name):
            if node.get("minLength", 0) >= 1 and "pattern" not in node:
                checked.append(path)
    assert checked == [], "texts of minLength >= 1 without a pattern"
    assert schemas["CreateProject"]["properties"]["name"]["pattern"] == NOT_BLANK
    secret = schemas["CreateSubscription"]["properties"]["secret"]["anyOf"][0]
    assert secret["pattern"] == kept_at_least(16)
