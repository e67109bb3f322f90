"""Keep secrets (API keys, email addresses) out of logs, state and output."""

from __future__ import annotations

import re
from collections.abc import Iterable

_SECRET_PARAMS = re.compile(r"(?i)\b(api[_-]?key|apikey|key|token|access_token|email|mailto)=([^&#\s\"']+)")
# user:password@ (or a bare token@) in a URL's authority: credentials for the site or a proxy.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#@\s\"']+@")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with known secret values and secret-looking query parameters masked."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _SECRET_PARAMS.sub(lambda m: f"{m.group(1)}=***", text)
    if "@" in text:
        text = _USERINFO.sub(lambda m: f"{m.group(1)}***@", text)
    return text



def redacted(text: str | None) -> str | None:
    """`redact(text)`, with None and "" passed through."""
    return redact(text) if text else text
