"""KEY=VALUE pairs, JSON options, comma lists and timestamps."""

from __future__ import annotations

import json

import pytest

from app.cli.errors import UsageError
from app.cli.params import parse_json_object, parse_pair, parse_pairs, parse_timestamp, split_list


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("vm_id=i-abc", ("vm_id", "i-abc")),
        ("empty=", ("empty", "")),
        ("url=http://x/?a=b&c=d", ("url", "http://x/?a=b&c=d")),
        ("spaced=a value with spaces", ("spaced", "a value with spaces")),
        ("quote=it's \"fine\"", ("quote", "it's \"fine\"")),
        ("dotted.key-1=v", ("dotted.key-1", "v")),
    ],
)
def test_parse_pair_accepts(text: str, expected: tuple[str, str]) -> None:
    assert parse_pair(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [("novalue", "no '='"), ("=x", "key is empty"), ("  =x", "key is empty"), ("a b=c", "whitespace"), (" a=c", "whitespace")],
)
def test_parse_pair_rejects(text: str, reason: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_pair(text)
    assert reason in info.value.message
    assert info.value.exit_code == 2


def test_parse_pairs_keeps_order_and_rejects_duplicates() -> None:
    assert list(parse_pairs(["b=1", "a=2"]).items()) == [("b", "1"), ("a", "2")]
    assert parse_pairs(None) == {}
    with pytest.raises(UsageError, match="more than once"):
        parse_pairs(["a=1", "a=2"])


def test_parse_pairs_checks_every_pair_before_returning() -> None:
    with pytest.raises(UsageError, match="'bad'"):
        parse_pairs(["good=1", "bad"])


def test_parse_json_object(tmp_path) -> None:
    assert parse_json_object(None) is None
    assert parse_json_object('{"vm_id": "i-1", "n": 2}') == {"vm_id": "i-1", "n": 2}
    file = tmp_path / "meta.json"
    file.write_text(json.dumps({"a": [1, 2]}))
    assert parse_json_object(f"@{file}") == {"a": [1, 2]}
    with pytest.raises(UsageError, match="not valid JSON"):
        parse_json_object("{nope")
    with pytest.raises(UsageError, match="must be a JSON object"):
        parse_json_object("[1, 2]")
    with pytest.raises(UsageError, match="cannot read"):
        parse_json_object(f"@{tmp_path / 'missing.json'}")


def test_split_list_and_timestamp() -> None:
    assert split_list("a, b,,c ") == ["a", "b", "c"]
    assert split_list("") == []
    assert split_list(None) is None
    assert parse_timestamp("2026-12-31T00:00:00Z", "--expires-at") == "2026-12-31T00:00:00Z"
    with pytest.raises(UsageError, match="ISO-8601"):
        parse_timestamp("tomorrow", "--expires-at")
