"""The prediction log and feedback.

Every answer of ``/predict`` gets a ``prediction_id`` and is recorded (request id,
task, version, time, key name, the answer, and the instance or only its fingerprint as
the task decides: ``Task.log_inputs``; fields in ``Task.log_omit`` are never stored,
so a medical task keeps no pixels or patient data). Fingerprints are keyed (HMAC under
the service's secret): nobody can recompute one from a guessed input. A task whose
instances name a person (``Task.subject_field``) has each row filed under a keyed
pseudonym of that person, so erasing the person removes their rows (``erase``). Rows are written by a background
thread in batches, so a request never waits for the database; rows older than
``AIAAS_PREDICTION_LOG_DAYS`` are deleted. Feedback (``POST .../feedback``) records the
true outcome of a logged prediction.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String, delete, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column

from aiaas.registry import Base
from aiaas.secrets import keyed_digest
from aiaas.state import json_safe

log = logging.getLogger("aiaas.monitoring")


class Prediction(Base):
    __tablename__ = "predictions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(100))
    task: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    answer: Mapped[dict[str, Any]] = mapped_column(JSON)
    inputs: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    fingerprint: Mapped[str] = mapped_column(String(64))


TASK_TIME = Index("ix_predictions_task_at", Prediction.task, Prediction.at)
"""A task's answers in a time window, counted or read newest first without scanning other tasks' (the console)."""


class PredictionMinute(Base):
    """How many answers of a task were logged in each minute, kept by the log's writer as it writes them: a day's
    traffic chart reads 1,440 counts instead of counting a million rows. Anonymous counts, so erasing a person's
    rows leaves them; they go with the rows past retention."""

    __tablename__ = "prediction_minutes"

    task: Mapped[str] = mapped_column(String(200), primary_key=True)
    minute: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    """Answers logged."""
    requests: Mapped[int] = mapped_column(Integer, default=0)
    """Requests answered by a model route (predict, explain, V2 infer), whatever their status..."""
    errors: Mapped[int] = mapped_column(Integer, default=0)
    """...those of them that failed on the server's side (5xx)..."""
    le_25ms: Mapped[int] = mapped_column(Integer, default=0)
    """...and how long they took, counted in latency buckets (the upper bound of each)."""
    le_50ms: Mapped[int] = mapped_column(Integer, default=0)
    le_100ms: Mapped[int] = mapped_column(Integer, default=0)
    le_250ms: Mapped[int] = mapped_column(Integer, default=0)
    le_1000ms: Mapped[int] = mapped_column(Integer, default=0)
    over_1000ms: Mapped[int] = mapped_column(Integer, default=0)


LATENCY = (("le_25ms", 0.025), ("le_50ms", 0.05), ("le_100ms", 0.1), ("le_250ms", 0.25), ("le_1000ms", 1.0), ("over_1000ms", float("inf")))
"""The minute counts' latency buckets: (column, upper bound in seconds)."""
COUNTED = ("count", "requests", "errors", *(c for c, _ in LATENCY))


@dataclass(frozen=True)
class Timing:
    """A time bucket's model requests, server errors and latency (the upper bound its 50th and 99th percentiles fall under)."""

    requests: int
    errors: int
    p50: float | None
    p99: float | None


def _quantile(buckets: list[int], q: float) -> float | None:
    total = sum(buckets)
    if not total:
        return None
    running = 0
    for (_, bound), n in zip(LATENCY, buckets):
        running += n
        if running >= q * total:
            return bound
    return LATENCY[-1][1]


def _minute(at: datetime) -> datetime:
    at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # SQLite gives back naive UTC
    return at.astimezone(UTC).replace(second=0, microsecond=0)


class PredictionSubject(Base):
    """The person a logged prediction is about, as a keyed pseudonym: what erasure looks up."""

    __tablename__ = "prediction_subjects"

    prediction_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    task: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(64), index=True)


class Feedback(Base):
    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prediction_id: Mapped[str] = mapped_column(String(32), index=True)
    task: Mapped[str] = mapped_column(String(200), index=True)
    label: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    key: Mapped[str | None] = mapped_column(String(100), nullable=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):  # an uploaded file stands in by its keyed hash
        return "hmac-sha256:" + keyed_digest("predictions", "file", hashlib.sha256(value).hexdigest()).hex()
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _canonical(instance: Any) -> str:
    return json.dumps(instance, sort_keys=True, default=_jsonable)


def fingerprint(instance: Any) -> str:
    return _keyed(_canonical(instance))


def _keyed(text: str) -> str:
    return keyed_digest("predictions", "instance", text).hex()


def subject_pseudonym(task: str, subject: str) -> str:
    return keyed_digest("predictions", f"subject:{task}", subject).hex()


def new_id() -> str:
    return uuid.uuid4().hex


class PredictionLog:
    """Collects rows from the request path and writes them from a thread of its own."""

    def __init__(self, engine: Engine, retention_days: float, flush_seconds: float = 0.5) -> None:
        self.engine, self.retention_days, self.flush_seconds = engine, retention_days, flush_seconds
        Base.metadata.create_all(engine, tables=[Prediction.__table__, Feedback.__table__, PredictionSubject.__table__,  # type: ignore[list-item]
                                                 PredictionMinute.__table__])
        TASK_TIME.create(engine, checkfirst=True)  # a log made before the index gets it too
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=100_000)
        self._written = threading.Condition()
        self._pending = 0
        self._thread = threading.Thread(target=self._run, name="aiaas prediction log", daemon=True)
        self._thread.start()
        self._last_cleanup = float("-inf")  # the first write also clears what is past retention
        with Session(engine) as session:
            unrolled = session.scalar(select(PredictionMinute.task).limit(1)) is None and session.scalar(select(Prediction.id).limit(1))
        if unrolled:  # a log made before the minute counts gets them from its rows, once
            self.backfill()

    def record(self, *, prediction_id: str, request_id: str, task: str, version: int, key: str | None,
               answer: dict[str, Any], instance: Any, log_inputs: bool, omit: tuple[str, ...], subject: str | None = None) -> None:
        """Queue one answer; it is serialised and hashed on the writer's thread, not the caller's
        (an ``instance`` may be a pydantic model, dumped there too). ``subject``: the person it is about."""
        row = {"id": prediction_id, "request_id": request_id, "task": task, "version": version, "at": datetime.now(UTC), "key": key,
               "answer": answer, "instance": instance, "log_inputs": log_inputs, "omit": omit, "subject": subject}
        try:
            with self._written:
                self._pending += 1
            self._queue.put_nowait(row)
        except queue.Full:  # the database is far behind: count it lost rather than slow the answers
            with self._written:
                self._pending -= 1
            log.warning("prediction log is full; a prediction of %s was not recorded", task)

    def timed(self, task: str, status: int, seconds: float) -> None:
        """Count one request of a model route in its minute (the console's latency over time): queued, never waited on."""
        try:
            with self._written:
                self._pending += 1
            self._queue.put_nowait({"timed": (task, datetime.now(UTC), status, seconds)})
        except queue.Full:
            with self._written:
                self._pending -= 1

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every recorded row is written (feedback and tests need it)."""
        deadline = time.monotonic() + timeout
        with self._written:
            while self._pending and time.monotonic() < deadline:
                self._written.wait(0.05)

    @staticmethod
    def _row(queued: dict[str, Any]) -> dict[str, Any]:
        instance, omit = queued.pop("instance"), queued.pop("omit")
        text = _canonical(instance.model_dump() if hasattr(instance, "model_dump") else instance)  # one serialisation: inputs and fingerprint
        subject = queued.pop("subject")
        return {**queued, "answer": json_safe({k: v for k, v in queued["answer"].items() if k not in omit}),
                "inputs": json_safe(json.loads(text)) if queued.pop("log_inputs") else None, "fingerprint": _keyed(text),
                "subject": subject_pseudonym(queued["task"], subject) if subject is not None else None}

    def _run(self) -> None:
        while True:
            rows = [self._queue.get()]
            time.sleep(self.flush_seconds if self._queue.qsize() < 500 else 0)
            while not self._queue.empty() and len(rows) < 5000:
                rows.append(self._queue.get_nowait())
            built = []
            counts: dict[tuple[str, datetime], Counter[str]] = {}
            for row in rows:
                if "timed" in row:  # a request's status and latency, for the minute counts only
                    task, at, status, seconds = row["timed"]
                    column = next(c for c, bound in LATENCY if seconds <= bound)
                    counts.setdefault((task, _minute(at)), Counter()).update({"requests": 1, "errors": int(status >= 500), column: 1})
                    continue
                try:
                    built.append(self._row(row))
                except Exception:  # one odd answer must not lose the others
                    log.exception("could not record a prediction of %s", row.get("task"))
            for r in built:
                counts.setdefault((r["task"], _minute(r["at"])), Counter())["count"] += 1
            try:
                if counts:
                    subjects = [{"prediction_id": r["id"], "task": r["task"], "subject": r["subject"]} for r in built if r["subject"]]
                    with Session(self.engine) as session, session.begin():
                        if built:
                            session.execute(insert(Prediction), [{k: v for k, v in r.items() if k != "subject"} for r in built])
                        if subjects:
                            session.execute(insert(PredictionSubject), subjects)
                        self._count(session, counts)
                self._cleanup()
            except Exception:
                log.exception("could not write %d prediction log rows", len(rows))
            with self._written:
                self._pending -= len(rows)
                self._written.notify_all()

    def _cleanup(self) -> None:
        if time.monotonic() - self._last_cleanup < 3600:
            return
        self._last_cleanup = time.monotonic()
        cutoff = datetime.now(UTC) - timedelta(days=self.retention_days)
        with Session(self.engine) as session, session.begin():
            old = select(Prediction.id).where(Prediction.at < cutoff)
            session.execute(delete(PredictionSubject).where(PredictionSubject.prediction_id.in_(old)))
            session.execute(delete(Prediction).where(Prediction.at < cutoff))
            session.execute(delete(Feedback).where(Feedback.at < cutoff))
            session.execute(delete(PredictionMinute).where(PredictionMinute.minute < _minute(cutoff)))

    def erase(self, task: str, subject: str) -> int:
        """Delete every logged prediction of ``task`` about ``subject`` (a learner), with its feedback;
        returns how many. On SQLite the freed bytes are overwritten (``secure_delete``) and the journal
        truncated, so no copy is left in the files."""
        self.flush()
        pseudonym = subject_pseudonym(task, subject)
        with Session(self.engine) as session, session.begin():
            ids = select(PredictionSubject.prediction_id).where(PredictionSubject.task == task, PredictionSubject.subject == pseudonym)
            session.execute(delete(Feedback).where(Feedback.prediction_id.in_(ids)))
            erased = session.execute(delete(Prediction).where(Prediction.id.in_(ids))).rowcount
            session.execute(delete(PredictionSubject).where(PredictionSubject.task == task, PredictionSubject.subject == pseudonym))
        if self.engine.dialect.name == "sqlite":
            with self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return int(erased or 0)

    def _count(self, session: Session, counts: dict[tuple[str, datetime], Counter[str]]) -> None:
        """Add ``counts`` to the minute counts, in the writer's transaction (an upsert where the database has one)."""
        if not counts:
            return
        rows = [{"task": task, "minute": minute, **{c: added.get(c, 0) for c in COUNTED}} for (task, minute), added in counts.items()]
        table = PredictionMinute.__table__
        if self.engine.dialect.name in ("sqlite", "postgresql"):
            from sqlalchemy.dialects import postgresql, sqlite

            dialect_insert = sqlite.insert if self.engine.dialect.name == "sqlite" else postgresql.insert
            statement = dialect_insert(table)
            session.execute(statement.on_conflict_do_update(
                index_elements=["task", "minute"], set_={c: table.c[c] + statement.excluded[c] for c in COUNTED}), rows)
            return
        for row in rows:  # any other database: read, then add or insert, in the same transaction
            found = session.get(PredictionMinute, (row["task"], row["minute"]))
            if found is None:
                session.add(PredictionMinute(**row))
            else:
                for c in COUNTED:
                    setattr(found, c, getattr(found, c) + row[c])

    def backfill(self) -> None:
        """The minute counts made again from the logged rows (a log that predates them; a bulk load that bypassed the writer)."""
        self.flush()
        counts: dict[tuple[str, datetime], Counter[str]] = {}
        with Session(self.engine) as session:
            for task, at in session.execute(select(Prediction.task, Prediction.at).execution_options(yield_per=50_000)):
                counts.setdefault((task, _minute(at)), Counter())["count"] += 1
        with Session(self.engine) as session, session.begin():  # requests' latency was never in the rows: it starts from now
            session.execute(delete(PredictionMinute))
            self._count(session, counts)

    def counts(self, task: str, edges: list[datetime]) -> list[int]:
        """Logged predictions of a task between each pair of consecutive ``edges``: the whole minutes from the minute
        counts, the part-minutes at each edge counted by the database (a few rows each), so no window reads its rows."""
        from sqlalchemy import func

        self.flush()

        def raw(session: Session, low: datetime, high: datetime) -> int:
            return int(session.scalar(select(func.count()).select_from(Prediction).where(
                Prediction.task == task, Prediction.at >= low, Prediction.at < high)) or 0) if low < high else 0

        with Session(self.engine) as session:
            first, last = _minute(edges[0]) + timedelta(minutes=1), _minute(edges[-1])
            minutes = [(_minute(m), n) for m, n in session.execute(select(PredictionMinute.minute, PredictionMinute.count).where(
                PredictionMinute.task == task, PredictionMinute.minute >= first - timedelta(minutes=1), PredictionMinute.minute < last))]
            out = []
            for low, high in zip(edges, edges[1:]):
                whole_from, whole_to = _minute(low) + (timedelta(minutes=1) if low != _minute(low) else timedelta(0)), _minute(high)
                if whole_from >= whole_to:
                    out.append(raw(session, low, high))
                    continue
                inside = sum(n for m, n in minutes if whole_from <= m < whole_to)
                out.append(inside + raw(session, low, whole_from) + raw(session, whole_to, high))
            return out

    def timings(self, task: str, edges: list[datetime]) -> list[Timing]:
        """Each bucket's model requests, server errors and latency percentiles, from the minute counts (a minute
        belongs to the bucket its start falls in)."""
        self.flush()
        columns = [getattr(PredictionMinute, c) for c, _ in LATENCY]
        with Session(self.engine) as session:
            found = [(_minute(row[0]), row[1], row[2], list(row[3:])) for row in session.execute(
                select(PredictionMinute.minute, PredictionMinute.requests, PredictionMinute.errors, *columns).where(
                    PredictionMinute.task == task, PredictionMinute.minute >= _minute(edges[0]), PredictionMinute.minute < edges[-1]))]
        out = []
        for low, high in zip(edges, edges[1:]):
            inside = [f for f in found if low <= max(f[0], edges[0]) < high]  # the minute the window starts in counts in its first bucket
            buckets = [sum(f[3][i] for f in inside) for i in range(len(LATENCY))]
            out.append(Timing(sum(f[1] for f in inside), sum(f[2] for f in inside), _quantile(buckets, 0.5), _quantile(buckets, 0.99)))
        return out

    def find(self, prediction_id: str) -> Prediction | None:
        self.flush()
        with Session(self.engine, expire_on_commit=False) as session:
            return session.get(Prediction, prediction_id)

    def add_feedback(self, prediction: Prediction, label: str, key: str | None) -> None:
        with Session(self.engine) as session, session.begin():
            session.add(Feedback(prediction_id=prediction.id, task=prediction.task, label=label, at=datetime.now(UTC), key=key))

    def since(self, task: str, start: datetime, newest: int | None = None) -> tuple[list[Prediction], dict[str, str]]:
        """Logged predictions of a task since ``start`` (only the ``newest`` ones when given: a bounded read of a
        busy log), oldest first, and the latest feedback label per prediction."""
        self.flush()
        with Session(self.engine, expire_on_commit=False) as session:
            query = select(Prediction).where(Prediction.task == task, Prediction.at >= start)
            if newest is None:
                rows = list(session.scalars(query.order_by(Prediction.at)))
            else:
                rows = list(session.scalars(query.order_by(Prediction.at.desc()).limit(newest)))[::-1]
            labels = {f.prediction_id: f.label for f in session.scalars(
                select(Feedback).where(Feedback.task == task, Feedback.at >= start).order_by(Feedback.id))}
        return rows, labels
