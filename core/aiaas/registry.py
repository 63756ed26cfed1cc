"""Model versions, their metrics and provenance, and which version serves each task.

SQLite under ``AIAAS_HOME`` by default, any SQLAlchemy URL by ``AIAAS_DATABASE_URL``.
Artifacts live in a folder per version under the artifact store; a version's row is
written only after its folder is complete, so a crash never leaves half a version.

Which version serves is an event log per task: ``promote`` pushes a version,
``rollback`` pops back to the one before, so history is never lost. A rollout tries a
version beside production first: a canary answers a share of clients, a shadow sees a
copy of the traffic without answering. Promoting a version completes a rollout;
rolling back ends it (production stays).
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, DateTime, Integer, String, UniqueConstraint, create_engine, delete, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from aiaas.errors import UserError
from aiaas.state import json_safe

if TYPE_CHECKING:
    from aiaas.settings import Settings
    from aiaas.store import ObjectStore

PRODUCTION = "production"
INCOMING = ".incoming-"
"""Prefix of a version folder still being written (followed by the writer's process id)."""


def losing(row: ModelVersion) -> str | None:
    """Why a version loses to its classical floor beyond noise, or None when it does not (or was not judged)."""
    from aiaas.selection import loses

    floor = (row.provenance or {}).get("floor")
    return f"loses to its classical floor: {floor['text']}" if loses(floor) else None


class Base(DeclarativeBase):
    pass


class ModelVersion(Base):
    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("task", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    runtime: Mapped[str] = mapped_column(String(50))
    architecture: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    data_fingerprint: Mapped[str] = mapped_column(String(100))
    provenance: Mapped[dict[str, Any]] = mapped_column(JSON)
    artifact_dir: Mapped[str] = mapped_column(String(300))

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "version": self.version,
            "runtime": self.runtime,
            "architecture": self.architecture,
            "created_at": self.created_at.isoformat(),
            "metrics": self.metrics,
            "data_fingerprint": self.data_fingerprint,
            "provenance": self.provenance,
            "artifact_dir": self.artifact_dir,
        }


class AliasEvent(Base):
    __tablename__ = "alias_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task: Mapped[str] = mapped_column(String(200), index=True)
    alias: Mapped[str] = mapped_column(String(50))
    action: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Rollout(Base):
    """A version tried beside production: ``canary`` (answers ``percent`` of clients) or ``shadow``."""

    __tablename__ = "rollouts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)
    percent: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(50), nullable=True)

    def describe(self) -> str:
        return f"canary of version {self.version} ({self.percent}% of clients)" if self.kind == CANARY else f"shadow of version {self.version}"


CANARY, SHADOW = "canary", "shadow"
MAX_VERSION = 2**31 - 1
"""Version numbers are 32-bit integers in every database the registry runs on."""


class VersionProblem(Base):
    """Why a version did not load on a server (``load``), or its files changed on disk while it
    was loaded (``integrity``): what ``aiaas models`` and the admin API show beside it."""

    __tablename__ = "version_problems"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    error: Mapped[str] = mapped_column(String(2000))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class NewVersion:
    task: str
    runtime: str
    architecture: str
    metrics: dict[str, Any]
    data_fingerprint: str
    provenance: dict[str, Any]


class Registry:
    def __init__(self, url: str, artifacts: Path, store: ObjectStore | None = None) -> None:
        self.artifacts = artifacts
        """Every version's files; with a ``store``, a cache of it (``aiaas.store``)."""
        self.store = store
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url, connect_args={"check_same_thread": False} if url.startswith("sqlite") else {})
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        Base.metadata.create_all(self.engine)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Registry:
        from aiaas.settings import get_settings
        from aiaas.store import store_of

        settings = settings or get_settings()
        return cls(settings.registry_url, settings.artifacts, store_of(settings.artifact_store))

    # -- writing ------------------------------------------------------------------

    def register(self, new: NewVersion, write: Callable[[Path], None]) -> ModelVersion:
        """Write a version's files with ``write(folder)``, then its row: all or nothing. The
        row records the manifest's SHA-256, which records every other file's."""
        from aiaas.integrity import MANIFEST, sha256

        self.remove_leftovers()
        task_dir = self.artifacts / new.task.replace("/", "__")
        task_dir.mkdir(parents=True, exist_ok=True)
        name = uuid.uuid4().hex
        incoming = task_dir / f"{INCOMING}{os.getpid()}-{name}"
        final = task_dir / name
        incoming.mkdir()
        try:
            write(incoming)
            if (incoming / MANIFEST).is_file():
                new = replace(new, provenance={**new.provenance, "manifest_sha256": sha256(incoming / MANIFEST)})
            incoming.rename(final)
            if self.store is not None:  # every file in the store before the row names them
                self.store.upload(final, final.relative_to(self.artifacts).as_posix())
            return self._insert(new, final)
        except BaseException:
            shutil.rmtree(incoming, ignore_errors=True)
            shutil.rmtree(final, ignore_errors=True)
            if self.store is not None:
                self.store.remove(final.relative_to(self.artifacts).as_posix())
            raise

    def remove_leftovers(self, orphan_age_seconds: float = 3600) -> list[Path]:
        """Remove what killed runs left: folders still being written by a process that is gone,
        and complete folders no row points to (once they are older than a registration takes)."""
        if not self.artifacts.is_dir():
            return []
        with Session(self.engine) as session:
            known = set(session.scalars(select(ModelVersion.artifact_dir)).all())
        removed = []
        for task_dir in (d for d in self.artifacts.iterdir() if d.is_dir()):
            for folder in (d for d in task_dir.iterdir() if d.is_dir()):
                relative = folder.relative_to(self.artifacts).as_posix()
                if folder.name.startswith(INCOMING):
                    pid = folder.name[len(INCOMING):].split("-")[0]
                    stale = not (pid.isdigit() and _alive(int(pid)))
                else:
                    stale = relative not in known and time.time() - folder.stat().st_mtime > orphan_age_seconds
                if stale:
                    shutil.rmtree(folder, ignore_errors=True)
                    removed.append(folder)
        return removed

    def _insert(self, new: NewVersion, folder: Path) -> ModelVersion:
        for _attempt in range(5):  # two trainings finishing at once race for the number
            with Session(self.engine, expire_on_commit=False) as session:
                latest = session.scalar(select(func.max(ModelVersion.version)).where(ModelVersion.task == new.task))
                row = ModelVersion(
                    task=new.task, version=(latest or 0) + 1, runtime=new.runtime, architecture=new.architecture,
                    created_at=datetime.now(UTC), metrics=json_safe(new.metrics), data_fingerprint=new.data_fingerprint,
                    provenance=json_safe(new.provenance), artifact_dir=str(folder.relative_to(self.artifacts)),
                )
                session.add(row)
                try:
                    session.commit()
                    return row
                except IntegrityError:
                    session.rollback()
        raise RuntimeError(f"could not allocate a version number for {new.task}")

    def promote(self, task: str, version: int, alias: str = PRODUCTION, actor: str | None = None, force: bool = False) -> ModelVersion:
        """``actor`` (a key's name, ``cli:USER`` by default) goes to the audit record. Promoting
        completes any rollout of the task. A version that loses to its classical floor beyond noise
        is refused unless ``force``: a canary or a shadow may still try it."""
        row = self.get(task, version)
        refusal = losing(row)
        if refusal and not force:
            raise UserError(f"{task} version {version} {refusal}; serving it would serve a worse model than the floor. "
                            f"Try it as a canary or shadow, or promote it anyway with --force")
        self._event(task, alias, "promote", version, actor)
        if alias == PRODUCTION:
            self.end_rollout(task, f"promoted version {version}", actor)
        return row

    def start_rollout(self, task: str, version: int, kind: str, percent: int = 100, actor: str | None = None) -> Rollout:
        """Try ``version`` beside production: a canary answering ``percent`` of clients, or a shadow.
        It replaces the task's rollout in progress, if any."""
        from aiaas.audit import cli_actor

        self.get(task, version)
        production = self.alias(task)
        if production is None:
            raise UserError(f"{task} has no production version to try version {version} beside; promote one first")
        if version == production:
            raise UserError(f"{task} version {version} is production already")
        if kind == CANARY and not 1 <= percent <= 99:
            raise UserError(f"a canary takes 1 to 99 percent of clients, not {percent}")
        self.end_rollout(task, "replaced", actor)
        row = Rollout(task=task, kind=kind, version=version, percent=percent if kind == CANARY else 100, started_at=datetime.now(UTC))
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            session.add(row)
        self.audit.record(actor or cli_actor(), kind, task, version=version, percent=row.percent)
        return row

    def rollout(self, task: str) -> Rollout | None:
        """The task's rollout in progress."""
        with Session(self.engine, expire_on_commit=False) as session:
            return session.scalar(select(Rollout).where(Rollout.task == task, Rollout.ended_at.is_(None)).order_by(Rollout.id.desc()))

    def end_rollout(self, task: str, outcome: str, actor: str | None = None) -> Rollout | None:
        from aiaas.audit import cli_actor

        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            active = list(session.scalars(select(Rollout).where(Rollout.task == task, Rollout.ended_at.is_(None))))
            for row in active:
                row.ended_at, row.outcome = datetime.now(UTC), outcome
        for row in active:
            self.audit.record(actor or cli_actor(), f"end {row.kind}", task, version=row.version, outcome=outcome)
        return active[-1] if active else None

    def rollback(self, task: str, alias: str = PRODUCTION, actor: str | None = None) -> ModelVersion:
        """Serve the version served before; while a rollout is in progress, end it instead
        (production stays as it is)."""
        if alias == PRODUCTION and self.end_rollout(task, "rolled back", actor) is not None:
            return self.get(task, self.alias(task))  # type: ignore[arg-type]
        stack = self._stack(task, alias)
        if len(stack) < 2:
            raise UserError(f"{task} has no earlier {alias} version to roll back to")
        self._event(task, alias, "rollback", stack[-2], actor)
        return self.get(task, stack[-2])

    @property
    def audit(self) -> Any:
        from aiaas.audit import Audit

        if "_audit" not in self.__dict__:
            self.__dict__["_audit"] = Audit(self.engine)
        return self.__dict__["_audit"]

    def _event(self, task: str, alias: str, action: str, version: int, actor: str | None) -> None:
        from aiaas.audit import cli_actor

        with Session(self.engine) as session, session.begin():
            session.add(AliasEvent(task=task, alias=alias, action=action, version=version, at=datetime.now(UTC)))
        self.audit.record(actor or cli_actor(), action, task, alias=alias, version=version)

    # -- reading ------------------------------------------------------------------

    def _stack(self, task: str, alias: str) -> list[int]:
        with Session(self.engine) as session:
            events = session.scalars(
                select(AliasEvent).where(AliasEvent.task == task, AliasEvent.alias == alias).order_by(AliasEvent.id)
            ).all()
        stack: list[int] = []
        for e in events:
            if e.action == "promote":
                stack.append(e.version)
            elif stack:
                stack.pop()
        return stack

    def alias(self, task: str, alias: str = PRODUCTION) -> int | None:
        stack = self._stack(task, alias)
        return stack[-1] if stack else None

    def get(self, task: str, version: int) -> ModelVersion:
        if not 1 <= version <= MAX_VERSION:  # a database driver would overflow on it
            raise UserError(f"{task} has no version {version}; versions are whole numbers from 1 to {MAX_VERSION}")
        with Session(self.engine, expire_on_commit=False) as session:
            row = session.scalar(select(ModelVersion).where(ModelVersion.task == task, ModelVersion.version == version))
        if row is None:
            raise UserError(f"{task} has no version {version}; see `aiaas models {task}`")
        return row

    def versions(self, task: str | None = None) -> list[ModelVersion]:
        query = select(ModelVersion).order_by(ModelVersion.task, ModelVersion.version)
        if task:
            query = query.where(ModelVersion.task == task)
        with Session(self.engine, expire_on_commit=False) as session:
            return list(session.scalars(query).all())

    # -- load problems that servers report ---------------------------------------------

    def record_problem(self, task: str, version: int, kind: str, error: str) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(delete(VersionProblem).where(VersionProblem.task == task, VersionProblem.version == version,
                                                         VersionProblem.kind == kind))
            session.add(VersionProblem(task=task, version=version, kind=kind, error=error[:2000], at=datetime.now(UTC)))

    def clear_problem(self, task: str, version: int) -> None:
        """A version that loaded cleanly (its files verified) has no problem left."""
        with Session(self.engine) as session, session.begin():
            session.execute(delete(VersionProblem).where(VersionProblem.task == task, VersionProblem.version == version))

    def problems(self, task: str | None = None) -> dict[tuple[str, int], dict[str, str]]:
        """(task, version) -> {kind: error} of what servers reported."""
        query = select(VersionProblem).order_by(VersionProblem.id)
        if task:
            query = query.where(VersionProblem.task == task)
        with Session(self.engine) as session:
            out: dict[tuple[str, int], dict[str, str]] = {}
            for row in session.scalars(query):
                out.setdefault((row.task, row.version), {})[row.kind] = row.error
            return out

    def listing(self, task: str | None = None) -> list[dict[str, Any]]:
        """Every version as JSON, with whether it serves production and what servers reported about it
        (``problems``: ``{"load": why}`` or ``{"integrity": why}``): what ``aiaas models`` and the admin API show."""
        rows = self.versions(task)
        production = {name: self.alias(name) for name in {row.task for row in rows}}
        problems = self.problems(task)
        return [{**row.to_json(), "production": production[row.task] == row.version, "problems": problems.get((row.task, row.version), {})}
                for row in rows]

    def folder(self, row: ModelVersion) -> Path:
        """The version's files on this machine; fetched from the store first when they are not cached."""
        from aiaas.integrity import MANIFEST

        local = self.artifacts / row.artifact_dir
        if self.store is not None and not (local / MANIFEST).is_file():
            local.parent.mkdir(parents=True, exist_ok=True)
            self.store.fetch(row.artifact_dir, local)
        return local

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA secure_delete=ON")  # deleted rows are overwritten, not left in free pages (erasure requests)
    cursor.close()
