"""Who is looking at the console: a signed session cookie, never the key itself.

Signing in posts an API key once; the cookie then holds the key's name and a CSRF token, signed
with the deployment's own secret (``AIAAS_HOME/secrets/console.key``) and good for 12 hours. Every
page looks the key up again, so a revoked or expired key signs its sessions out at once. The cookie
is HttpOnly and SameSite=Strict, and Secure when the console is reached over TLS. Every form that
changes something carries the session's CSRF token, checked in constant time.

While no key exists (a laptop, loopback only) the console is open as the API is, but its forms
still need the token: a page on another site must not drive a local server.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from aiaas.keys import ADMIN, Caller

COOKIE = "aiaas_console"
MAX_AGE = 12 * 3600


@dataclass(frozen=True)
class Session:
    key: str | None
    """The signed-in key's name; None before signing in, or while the console is open."""
    csrf: str


@dataclass(frozen=True)
class Viewer:
    """What a page may show and do: ``caller`` None is open access (no key exists yet)."""

    caller: Caller | None
    session: Session

    @property
    def admin(self) -> bool:
        return self.caller is None or self.caller.scope == ADMIN

    def sees(self, task: str) -> bool:
        industry, _, name = task.partition("/")
        return self.caller is None or self.caller.allows(industry, name)

    @property
    def name(self) -> str:
        return self.caller.name if self.caller else "open access"

    @property
    def actor(self) -> str:
        """Who the audit record names for a change made here."""
        return f"key:{self.caller.name}" if self.caller else "console:open-access"


def _serializer() -> URLSafeTimedSerializer:
    from aiaas import secrets as deployment

    return URLSafeTimedSerializer(deployment.key("console"), salt="aiaas-console-session")


def new(key: str | None = None) -> Session:
    return Session(key, secrets.token_urlsafe(24))


def sign(session: Session) -> str:
    return _serializer().dumps({"k": session.key, "c": session.csrf})


def read(token: str | None) -> Session | None:
    if not token:
        return None
    try:
        data = _serializer().loads(token, max_age=MAX_AGE)
    except BadSignature:  # altered, or older than MAX_AGE (SignatureExpired is one)
        return None
    if not isinstance(data, dict) or not isinstance(data.get("c"), str) or not isinstance(data.get("k"), str | None):
        return None
    return Session(data["k"], data["c"])


def csrf_ok(session: Session, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(session.csrf.encode(), str(sent).encode())
