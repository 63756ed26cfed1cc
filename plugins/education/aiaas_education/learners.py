"""Learner state kept by the service, so a product sends each answer once.

Answers live in the service's database (the registry's: SQLite under ``AIAAS_HOME``
or ``AIAAS_DATABASE_URL``) under a keyed pseudonym of the learner id: the raw id is
never stored. Appends for one learner are numbered in one transaction behind a
per-learner lock (and a unique (learner, step) key across processes), so concurrent
appends keep their order. Erasure deletes every row of the learner; on SQLite,
``secure_delete`` overwrites the freed bytes and a WAL checkpoint truncates the
journal, so no copy is left in the files. On PostgreSQL the deleted rows are gone
from every query at once and from disk at the next VACUUM. Erasure also removes every
logged prediction about the learner (the task's ``subject_field``), with its feedback.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Integer, String, UniqueConstraint, delete, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from aiaas import keyed_digest
from aiaas import strict_json_body
from aiaas_education.schemas import MAX_HISTORY, Answer

TASK = "education/knowledge-tracing"
LearnerId = Annotated[str, Path(min_length=1, max_length=200, description="the product's id of the learner")]


class Base(DeclarativeBase):
    pass


class StoredAnswer(Base):
    __tablename__ = "education_learner_answers"
    __table_args__ = (UniqueConstraint("learner", "step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    learner: Mapped[str] = mapped_column(String(64), index=True)
    step: Mapped[int] = mapped_column(Integer)
    skill: Mapped[str] = mapped_column(String(200))
    correct: Mapped[int] = mapped_column(Integer)
    item: Mapped[str | None] = mapped_column(String(200), nullable=True)


class NewAnswers(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answers: list[Answer] = Field(min_length=1, max_length=MAX_HISTORY, description="new answers, oldest first")


def pseudonym(learner: str) -> str:
    return "learner-" + keyed_digest("learners", "learner", learner).hex()[:40]


class LearnerStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        Base.metadata.create_all(engine)
        self._locks = [threading.Lock() for _ in range(64)]

    def _lock(self, key: str) -> threading.Lock:
        return self._locks[int(key[-6:], 16) % len(self._locks)]

    def append(self, learner: str, answers: list[Answer]) -> int:
        """Store answers after the learner's last; return how many the learner has now."""
        key = pseudonym(learner)
        with self._lock(key):
            for _attempt in range(20):  # another process may take the same step numbers first
                with Session(self.engine) as session:
                    last = session.scalar(select(func.max(StoredAnswer.step)).where(StoredAnswer.learner == key)) or 0
                    session.add_all(StoredAnswer(learner=key, step=last + 1 + i, skill=a.skill, correct=a.correct, item=a.item)
                                    for i, a in enumerate(answers))
                    try:
                        session.commit()
                        return last + len(answers)
                    except IntegrityError:
                        session.rollback()
        raise HTTPException(409, "too many concurrent appends for this learner; try again")

    def history(self, learner: str, last: int) -> tuple[list[StoredAnswer], int]:
        """The learner's most recent ``last`` answers in order, and how many are stored."""
        key = pseudonym(learner)
        with Session(self.engine) as session:
            total = session.scalar(select(func.count()).where(StoredAnswer.learner == key)) or 0
            rows = session.scalars(select(StoredAnswer).where(StoredAnswer.learner == key).order_by(StoredAnswer.step.desc()).limit(last)).all()
        return list(reversed(rows)), total

    def erase(self, learner: str) -> int:
        key = pseudonym(learner)
        sqlite = self.engine.dialect.name == "sqlite"
        with self._lock(key), Session(self.engine) as session:
            erased = session.execute(delete(StoredAnswer).where(StoredAnswer.learner == key)).rowcount
            session.commit()
        if sqlite:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return int(erased or 0)


def add_learner_routes(router: APIRouter, service: Any) -> None:
    store = LearnerStore(service.registry.engine)
    base = f"/v1/{TASK}/learners/{{learner}}"
    tags = [f"{TASK} learners"]

    async def knowledge_state(learner: str) -> dict[str, Any]:
        pipeline = await service.pipeline(TASK)
        rows, total = await run_in_threadpool(store.history, learner, int(pipeline.pre_state.meta["window"]))
        if total == 0:
            raise HTTPException(404, f"no answers are stored for learner {learner!r}")
        record = {"learner": learner, "skill": [r.skill for r in rows], "correct": [r.correct for r in rows],
                  "item": [r.item for r in rows], "next_skill": None, "next_item": None}
        answers, model = await service.predict(TASK, [record])
        state = {**answers[0], "answers_given": total, "truncated": total > answers[0]["answers_used"]}
        return {"learner": learner, "stored_answers": total, "state": state, "model": model}

    @router.post(base + "/answers", tags=tags, summary="Append a learner's new answers; answers the updated knowledge state",
                 dependencies=[Depends(strict_json_body)])
    async def append(learner: LearnerId, body: NewAnswers) -> dict[str, Any]:
        await service.pipeline(TASK)  # no model: 503 before anything is stored
        await run_in_threadpool(store.append, learner, body.answers)
        return await knowledge_state(learner)

    @router.get(base, tags=tags, summary="A learner's knowledge state from the stored answers")
    async def get(learner: LearnerId) -> dict[str, Any]:
        return await knowledge_state(learner)

    @router.delete(base, tags=tags, summary="Erase every stored answer of a learner, and every logged prediction about them")
    async def erase(learner: LearnerId) -> dict[str, Any]:
        answers = await run_in_threadpool(store.erase, learner)
        return {"learner": learner, "erased_answers": answers, "erased_predictions": await service.erase_predictions(TASK, learner)}
