"""The secret every URL carries: made at start, or kept in the config file (`serve_token`)
with --keep-token, so a phone's bookmark and a podcast subscription outlive a restart."""

from __future__ import annotations

import hmac
import logging
import re
import secrets

KEY = "serve_token"
"""The config file's key for a kept token."""
BYTES = 24
"""Random bytes in a token: 32 URL-safe characters, 192 bits."""
_SHAPE = re.compile(r"[A-Za-z0-9_-]{32,128}")


def token(keep: bool = False) -> str:
    """A new random token; with `keep`, the one the config file keeps (made and written there
    the first time). A kept token that is not of the right shape is replaced."""
    if not keep:
        return secrets.token_urlsafe(BYTES)
    from ..config import read_config, remember

    kept = read_config().get(KEY)
    if isinstance(kept, str) and _SHAPE.fullmatch(kept):
        return kept
    made = secrets.token_urlsafe(BYTES)
    try:
        remember(KEY, made)
    except (OSError, ValueError) as exc:
        logging.getLogger("voiceguide").warning(
            f"{exc}; the token is not kept, and changes when voiceguide serve starts again"
        )
    return made


def matches(given: str, expected: str) -> bool:
    """Compared in constant time: the time taken says nothing of how much was right."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))
