"""SSRF safety of webhook URLs: https unless allowed; loopback, link-local (cloud metadata) and private targets
refused, whether written as addresses or reached through a name that the resolver turns into one."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from core.errors import ErrorCode, UnsafeWebhookUrl
from core.secret_box import SecretBox, SecretKeyMissing
from core.settings import Settings
from services.webhook_targets import resolve_target


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


LENIENT_HTTP = settings(webhook_allow_http=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://127.8.9.10:8080/hook",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://10.0.0.1/hook",
        "http://172.16.5.5/hook",
        "http://192.168.1.1/hook",
        "http://100.64.0.1/hook",  # shared address space
        "http://0.0.0.0/hook",
        "http://[::1]/hook",
        "http://[fe80::1]/hook",
        "http://[fd00::1]/hook",
        "http://[::ffff:10.0.0.1]/hook",  # IPv4 inside IPv6
        "http://localhost:9000/hook",  # a name the resolver turns into loopback
        "http://167772161/hook",  # a name the resolver turns into 10.0.0.1
        "http://10.1/hook",  # likewise, short form
    ],
)
async def test_non_public_targets_are_refused_with_a_code(url: str) -> None:
    with pytest.raises(UnsafeWebhookUrl) as refused:
        await resolve_target(url, LENIENT_HTTP)
    assert refused.value.code is ErrorCode.UNSAFE_WEBHOOK_URL
    assert "not a public address (loopback, link-local, private or reserved)" in refused.value.message


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://8.8.4.4/hook", "must use https"),
        ("ftp://example.com/hook", "must start with https://"),
        ("https://user:pw@example.com/hook", "user name or password"),
        ("https:///hook", "no host"),
        ("https://example.com:99999/hook", "malformed"),
        ("https://example.com/a b", "without spaces"),
        ("https://example.invalid/hook", "does not resolve"),
    ],
)
async def test_malformed_or_plain_http_urls_are_refused(url: str, says: str) -> None:
    with pytest.raises(UnsafeWebhookUrl) as refused:
        await resolve_target(url, settings())
    assert says in refused.value.message


async def test_public_addresses_pass_and_private_ones_only_when_allowed() -> None:
    resolved = await resolve_target("https://8.8.8.8:8443/hooks?x=1", settings())
    assert (str(resolved.address), resolved.target.port, resolved.target.path) == ("8.8.8.8", 8443, "/hooks?x=1")
    allowed = settings(webhook_allow_http=True, webhook_allow_private_targets=True)
    assert str((await resolve_target("http://localhost:9000/h", allowed)).address) == "127.0.0.1"


def test_production_refuses_private_targets_and_needs_an_encryption_key() -> None:
    with pytest.raises(ValidationError, match="WEBHOOK_ALLOW_PRIVATE_TARGETS"):
        settings(environment="production", webhook_allow_private_targets=True)
    with pytest.raises(SecretKeyMissing, match="WEBHOOK_SECRET_KEY is required"):
        SecretBox.from_settings(settings(environment="production"))
    with pytest.raises(SecretKeyMissing, match="not a valid Fernet key"):
        SecretBox.from_settings(settings(environment="production", webhook_secret_key="not-a-key"))


def test_secrets_round_trip_and_old_keys_still_decrypt() -> None:
    old, new = "k" * 43 + "=", "n" * 43 + "="
    stored = SecretBox.from_settings(settings(webhook_secret_key=old)).encrypt("whsec_abc")
    assert "whsec_abc" not in stored
    rotated = SecretBox.from_settings(settings(webhook_secret_key=f"{new},{old}"))
    assert rotated.decrypt(stored) == "whsec_abc"
    with pytest.raises(SecretKeyMissing):
        SecretBox.from_settings(settings(webhook_secret_key=new)).decrypt(stored)
