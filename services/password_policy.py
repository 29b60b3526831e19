"""What a new password must be: long enough and not guessable (zxcvbn's estimate against common passwords,
names, dictionary words and patterns), checked before anything is hashed or changed."""

from __future__ import annotations

from collections.abc import Sequence

from zxcvbn import zxcvbn

from core.errors import BadUserInput

MIN_LENGTH = 12
MAX_LENGTH = 256
MIN_SCORE = 3  # zxcvbn's 0..4: 3 is "safely unguessable: moderate protection from offline slow-hash attacks"
SCORED_PREFIX = 100  # zxcvbn's cost grows with length; what follows 100 characters only makes it stronger


def check_new_password(password: str, *, user_inputs: Sequence[str] = ()) -> None:
    """Raise `BadUserInput` naming what to fix; return when the password is acceptable."""
    if len(password) < MIN_LENGTH:
        raise BadUserInput(f"The new password must have at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise BadUserInput(f"The new password must have at most {MAX_LENGTH} characters.")
    result = zxcvbn(password[:SCORED_PREFIX], user_inputs=list(user_inputs))
    if int(result["score"]) < MIN_SCORE:
        warning = str(result.get("feedback", {}).get("warning") or "").strip()
        hint = f" ({warning.rstrip('.')})" if warning else ""
        raise BadUserInput(f"The new password is too easy to guess{hint}: use a longer passphrase.")
