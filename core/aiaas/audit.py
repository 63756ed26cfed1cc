"""An append-only record of who changed what: promotions, rollbacks, keys made and revoked."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column

from aiaas.registry import Base


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(50))
    target: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "actor": self.actor, "action": self.action, "target": self.target, "detail": self.detail}


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in some containers
        return "cli"


class Audit:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        Base.metadata.create_all(engine, tables=[AuditEvent.__table__])  # type: ignore[list-item]

    def record(self, actor: str, action: str, target: str, **detail: Any) -> None:
        with Session(self.engine) as session, session.begin():
            session.add(AuditEvent(at=datetime.now(UTC), actor=actor, action=action, target=target, detail=detail))

    def events(self, limit: int = 100, actor: str | None = None, action: str | None = None, target: str | None = None) -> list[AuditEvent]:
        """The most recent ``limit`` events, oldest first; ``actor``, ``action`` and ``target`` keep those that
        hold the given text."""
        query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
        for column, text in ((AuditEvent.actor, actor), (AuditEvent.action, action), (AuditEvent.target, target)):
            if text:
                query = query.where(column.contains(text, autoescape=True))
        with Session(self.engine, expire_on_commit=False) as session:
            return list(reversed(session.scalars(query).all()))
