"""API keys: who may call which routes.

A key is shown once, when it is made, and stored only as its SHA-256 (keys are 256
random bits, so a fast hash is as strong as a slow one). Its scope is an industry
(``finance``), one task (``finance/fraud``) or ``admin`` (every route, model
management included); it may expire and may carry a rate limit in requests per
second. Keys live in the registry's database beside the models they guard.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any
from datetime import UTC, datetime, timedelta

from sqlalchemy import DateTime, Float, Integer, String, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from aiaas.errors import UserError
from aiaas.registry import Base

ADMIN = "admin"
SCOPE = re.compile(r"^(admin|[a-z][a-z0-9_-]*(/[a-z][a-z0-9_-]*)?)$")
PREFIX = "aiaas_"


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    scope: Mapped[str] = mapped_column(String(200))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    rate: Mapped[float | None] = mapped_column(Float, nullable=True)

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or _aware(self.expires_at) > now)

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "scope": self.scope, "created_at": self.created_at.isoformat(),
                "expires_at": self.expires_at.isoformat() if self.expires_at else None,
                "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None, "rate": self.rate}


@dataclass(frozen=True)
class Caller:
    """Who a request comes from: the key's name, scope and rate limit."""

    name: str
    scope: str
    rate: float | None = None

    def allows(self, industry: str | None, task: str | None = None) -> bool:
        """May this caller use a route of ``industry`` (and ``task``)? ``None``: an admin route."""
        if self.scope == ADMIN:
            return True
        if industry is None:
            return False
        return self.scope in (industry, f"{industry}/{task}")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite gives back naive times


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        Base.metadata.create_all(engine, tables=[ApiKey.__table__])  # type: ignore[list-item]

    def create(self, name: str, scope: str, expires_in_days: float | None = None, rate: float | None = None) -> tuple[ApiKey, str]:
        """A new key; the secret is returned here and never again."""
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}", name):
            raise UserError(f"--name {name!r}: use letters, digits and . _ @ - (at most 100)")
        if not SCOPE.match(scope):
            raise UserError(f"--scope {scope!r}: give an industry (finance), an industry/task (finance/fraud) or admin")
        if rate is not None and rate <= 0:
            raise UserError("--rate must be a positive number of requests per second")
        secret = PREFIX + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        row = ApiKey(name=name, scope=scope, digest=digest(secret), created_at=now, rate=rate,
                     expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None)
        with Session(self.engine, expire_on_commit=False) as session:
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                raise UserError(f"a key named {name!r} exists already; revoke it or choose another name") from None
        return row, secret

    def revoke(self, name: str) -> ApiKey:
        with Session(self.engine, expire_on_commit=False) as session:
            row = session.scalar(select(ApiKey).where(ApiKey.name == name))
            if row is None:
                raise UserError(f"no key named {name!r}; see `aiaas keys list`")
            if row.revoked_at is None:
                row.revoked_at = datetime.now(UTC)
                session.commit()
        return row

    def list(self) -> list[ApiKey]:
        with Session(self.engine, expire_on_commit=False) as session:
            return list(session.scalars(select(ApiKey).order_by(ApiKey.name)).all())

    def configured(self) -> bool:
        """Whether any key was ever made. Revoked and expired keys count: revoking the last key
        must lock the service, not open it."""
        with Session(self.engine) as session:
            return session.scalar(select(ApiKey.id).limit(1)) is not None

    def caller(self, key: str) -> Caller | None:
        """The caller a presented key belongs to, or None for an unknown, revoked or expired key."""
        return self._active(ApiKey.digest == digest(key))

    def named(self, name: str) -> Caller | None:
        """The caller of the key with this name while it is active (a console session holds the name)."""
        return self._active(ApiKey.name == name)

    def _active(self, where: Any) -> Caller | None:
        with Session(self.engine) as session:
            row = session.scalar(select(ApiKey).where(where))
            if row is None or not row.active(datetime.now(UTC)):
                return None
            return Caller(row.name, row.scope, row.rate)
