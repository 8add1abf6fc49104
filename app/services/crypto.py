"""Encryption at rest for sensitive variables (Fernet, key derived from settings)."""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken

from app.settings import get_settings

MASK = "******"


@lru_cache
def _fernet(secret: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))


def encrypt(value: str) -> str:
    return _fernet(get_settings().encryption_key).encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet(get_settings().encryption_key).decrypt(token.encode()).decode()
    except InvalidToken as exc:  # a key rotation without re-encryption
        raise ValueError("sensitive value cannot be decrypted with the configured key") from exc
