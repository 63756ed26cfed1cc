"""The knowledge-tracing API: a learner's history in, the learner's knowledge state out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

from aiaas import InvalidInput, Number, Whole

MAX_HISTORY = 10_000
"""Most answers one instance (or one append) may carry; the model reads the most recent of them."""


def _id_text(value: Any) -> Any:
    """Skill and item ids may come as numbers (ASSISTments' are); they are names to the model."""
    if isinstance(value, bool):
        raise ValueError("an id is text or a whole number, not true/false")
    if isinstance(value, float) and value.is_integer():  # JSON Schema's integer: 7 or 7.0
        value = int(value)
    return str(value) if isinstance(value, int) else value


Id = Annotated[str, BeforeValidator(_id_text), Field(min_length=1, max_length=200),
               WithJsonSchema({"anyOf": [{"type": "string", "minLength": 1, "maxLength": 200}, {"type": "integer"}]})]
"""An id: text, or a whole number (the schema says so; true/false and fractions are refused)."""


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    skill: Id = Field(description="the skill (knowledge component) the answer practised")
    correct: Annotated[Whole, Field(ge=0, le=1, description="1 when the answer was correct, else 0")]
    item: Id | None = Field(default=None, description="the question answered, when known")
    timestamp: datetime | None = Field(default=None, description="when it was answered; a history whose answers all have one is put in time order")
    attempts: Annotated[Whole, Field(ge=0)] | None = None
    hints: Annotated[Whole, Field(ge=0)] | None = None
    response_time: Annotated[Number, Field(ge=0, allow_inf_nan=False)] | None = Field(default=None, description="seconds to answer")


class Next(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [  # one of them, and not null: what _one_of says
        {"required": ["skill"], "properties": {"skill": {"not": {"type": "null"}}}},
        {"required": ["item"], "properties": {"item": {"not": {"type": "null"}}}}]})

    skill: Id | None = Field(default=None, description="the skill of the next question")
    item: Id | None = Field(default=None, description="the next question; its skill is looked up when no skill is given")

    @model_validator(mode="after")
    def _one_of(self) -> Next:
        if self.skill is None and self.item is None:
            raise ValueError("next names a skill or an item")
        return self


class LearnerHistory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    learner: Annotated[str, Field(min_length=1, max_length=200, description="the product's id of the learner")]
    history: list[Answer] = Field(default_factory=list, max_length=MAX_HISTORY, description="past answers, oldest first")
    next: Next | None = Field(default=None, description="the question about to be asked, for its probability of a correct answer")


class NextEstimate(BaseModel):
    skill: str
    item: str | None = None
    probability: float = Field(description="probability that the next answer is correct")
    known_skill: bool = Field(description="false when the model does not know this skill (answered as its shared unknown skill)")


class Recommendation(BaseModel):
    skill: str
    mastery: float


class KnowledgeState(BaseModel):
    learner: str
    mastery: dict[str, float] = Field(description="probability of answering each known skill correctly next")
    next: NextEstimate | None = None
    recommended: list[Recommendation] = Field(
        description="skills to practise next: mastery inside the practice band (0.4 to 0.8 by default), weakest first; "
                    "when none is inside, the skills nearest to it")
    unknown_skills: list[str] = Field(description="skills in the history the model does not know; they count as one shared unknown skill")
    answers_given: int
    answers_used: int = Field(description="answers the model read: the most recent ones up to its window")
    truncated: bool = Field(description="true when the history was longer than the model's window and older answers were left out")
    prior: bool = Field(description="true when there was no history: the answer is the population prior")


def to_record(instance: LearnerHistory) -> dict[str, Any]:
    """One API instance -> the record the preprocessor reads (aligned step lists)."""
    history = list(instance.history)
    if history and all(a.timestamp is not None for a in history):
        try:
            history.sort(key=lambda a: a.timestamp)  # type: ignore[arg-type, return-value]
        except TypeError:
            raise InvalidInput("history mixes timestamps with and without a time zone", ("history",)) from None
    nxt = instance.next
    return {
        "learner": instance.learner,
        "skill": [a.skill for a in history],
        "correct": [a.correct for a in history],
        "item": [a.item for a in history],
        "next_skill": nxt.skill if nxt else None,
        "next_item": nxt.item if nxt else None,
    }
