"""Secrets the service must use again (webhook signing secrets), encrypted at rest with Fernet.

The key comes from `WEBHOOK_SECRET_KEY` (comma-separated Fernet keys: the first encrypts, any decrypts, so keys
can be rotated). Development falls back to a fixed key, which production refuses to use."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from core.settings import Settings

# Anyone can read this key: it only keeps development databases from holding secrets in the clear by accident.
_DEVELOPMENT_KEY = base64.urlsafe_b64encode(hashlib.sha256(b"active-sessions development webhook key").digest())


class SecretKeyMissing(RuntimeError):
    """Production without WEBHOOK_SECRET_KEY."""


class SecretBox:
    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise SecretKeyMissing("no encryption key")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        if settings.webhook_secret_key is None:
            if settings.environment == "production":
                raise SecretKeyMissing(
                    "WEBHOOK_SECRET_KEY is required in production to encrypt webhook secrets: set it to a Fernet key "
                    "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
                )
            return cls([_DEVELOPMENT_KEY])
        raw = settings.webhook_secret_key.get_secret_value()
        try:
            return cls([part.strip().encode() for part in raw.split(",") if part.strip()])
        except ValueError as exc:  # never echo the value
            raise SecretKeyMissing("WEBHOOK_SECRET_KEY is not a valid Fernet key (32 url-safe base64 bytes)") from exc

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise SecretKeyMissing("a stored secret cannot be decrypted with WEBHOOK_SECRET_KEY") from exc
