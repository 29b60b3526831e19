"""Reading client credentials from a request: HTTP Basic (`client_secret_basic`, RFC 6749 section 2.3.1, with
form-urlencoded id and secret) or the form fields `client_id` and `client_secret` (`client_secret_post`)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from urllib.parse import unquote_plus

from starlette.datastructures import Headers


class CredentialsError(Exception):
    """Credentials given in a malformed way, or in two ways at once."""


@dataclass(frozen=True, slots=True)
class Credentials:
    client_id: str
    secret: str


def basic_credentials(headers: Headers) -> Credentials | None:
    header = headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise CredentialsError("Only HTTP Basic client authentication is accepted in Authorization.")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise CredentialsError("Malformed HTTP Basic credentials.") from exc
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise CredentialsError("Malformed HTTP Basic credentials.")
    return Credentials(unquote_plus(client_id), unquote_plus(secret))


def request_credentials(headers: Headers, form: dict[str, str]) -> Credentials | None:
    """The client's credentials, or None when it gave none; both methods at once is an error (RFC 6749)."""
    basic = basic_credentials(headers)
    posted = "client_id" in form or "client_secret" in form
    if basic is not None and posted:
        raise CredentialsError("Use one client authentication method, not two.")
    if basic is not None:
        return basic
    if posted:
        return Credentials(form.get("client_id", ""), form.get("client_secret", ""))
    return None
