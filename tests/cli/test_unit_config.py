"""The config file (0600, TOML or JSON) and the precedence flags > BLDST_* > file."""

from __future__ import annotations

import json
import os
import stat
import tomllib

import pytest

from app.cli import config
from app.cli.errors import UsageError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in ("BLDST_API_URL", "BLDST_API_KEY", "BLDST_OUTPUT", "BLDST_RETRIES", "BLDST_BACKOFF", "BLDST_TIMEOUT", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BLDST_CONFIG", str(tmp_path / "cfg" / "config.toml"))


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_save_is_0600_and_round_trips(tmp_path) -> None:
    weird = 'k"ey\\with\nnewline and ünïcode'
    path = config.save_config({"api_url": "http://127.0.0.1:9000", "api_key": weird})
    assert path == tmp_path / "cfg" / "config.toml"
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert tomllib.loads(path.read_text())["api_key"] == weird
    assert config.load_config() == {"api_url": "http://127.0.0.1:9000", "api_key": weird}


def test_save_tightens_an_existing_loose_file(tmp_path) -> None:
    path = tmp_path / "cfg" / "config.toml"
    path.parent.mkdir()
    path.write_text('api_url = "http://127.0.0.1:1"\n')
    os.chmod(path, 0o644)
    config.save_config({"api_key": "k-123456"})
    assert mode(path) == 0o600
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".bldst-")]


def test_json_config(monkeypatch, tmp_path) -> None:
    path = tmp_path / "c.json"
    monkeypatch.setenv("BLDST_CONFIG", str(path))
    config.save_config({"api_key": "k-123456"})
    assert json.loads(path.read_text()) == {"api_key": "k-123456"}
    assert mode(path) == 0o600


def test_default_path_and_json_fallback(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("BLDST_CONFIG")
    assert config.config_path() == tmp_path / "home" / ".config" / "bldst" / "config.toml"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    (tmp_path / "xdg" / "bldst").mkdir(parents=True)
    (tmp_path / "xdg" / "bldst" / "config.json").write_text('{"api_url": "http://127.0.0.1:7"}')
    assert config.config_path() == tmp_path / "xdg" / "bldst" / "config.json"
    assert config.resolve().api_url == "http://127.0.0.1:7"


def test_precedence(monkeypatch) -> None:
    config.save_config({"api_url": "http://127.0.0.1:1", "api_key": "file-key-1", "output": "yaml"})
    s = config.resolve()
    assert (s.api_url, s.api_key, s.output) == ("http://127.0.0.1:1", "file-key-1", "yaml")
    monkeypatch.setenv("BLDST_API_URL", "http://127.0.0.1:2/")
    monkeypatch.setenv("BLDST_API_KEY", "env-key-2")
    monkeypatch.setenv("BLDST_OUTPUT", "json")
    s = config.resolve()
    assert (s.api_url, s.api_key, s.output) == ("http://127.0.0.1:2", "env-key-2", "json")
    s = config.resolve(api_url="http://127.0.0.1:3", api_key="flag-key-3", output="table")
    assert (s.api_url, s.api_key, s.output) == ("http://127.0.0.1:3", "flag-key-3", "table")


def test_defaults_and_retry_settings(monkeypatch) -> None:
    s = config.resolve()
    assert (s.api_url, s.api_key, s.output) == (config.DEFAULT_API_URL, None, None)
    assert (s.retries, s.backoff, s.timeout) == (3, 0.5, 30.0)
    monkeypatch.setenv("BLDST_RETRIES", "0")
    monkeypatch.setenv("BLDST_BACKOFF", "0.01")
    assert (config.resolve().retries, config.resolve().backoff) == (0, 0.01)
    monkeypatch.setenv("BLDST_RETRIES", "many")
    with pytest.raises(UsageError, match="BLDST_RETRIES"):
        config.resolve()


def test_bad_values_are_usage_errors(monkeypatch, tmp_path) -> None:
    with pytest.raises(UsageError, match="http://"):
        config.resolve(api_url="127.0.0.1:8080")
    with pytest.raises(UsageError, match="unknown setting"):
        config.validate_setting("colour", "red")
    with pytest.raises(UsageError, match="output"):
        config.validate_setting("output", "xml")
    bad = tmp_path / "cfg" / "config.toml"
    bad.parent.mkdir()
    bad.write_text('api_key = "secret-in-a-broken-file\n')
    with pytest.raises(UsageError) as info:
        config.load_config()
    assert "secret-in-a-broken-file" not in info.value.message


def test_api_key_is_trimmed_and_checked(monkeypatch) -> None:
    monkeypatch.setenv("BLDST_API_KEY", "  key-from-a-file-123\n")
    assert config.resolve().api_key == "key-from-a-file-123"
    monkeypatch.setenv("BLDST_API_KEY", "two words-key")
    with pytest.raises(UsageError) as info:
        config.resolve()
    assert "two words" not in info.value.render()
    monkeypatch.setenv("BLDST_API_KEY", "   ")
    assert config.resolve().api_key is None
