"""A product review in, the analysis of it out."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator

from aiaas import Whole


class Review(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=100_000, description="the review's text; HTML entities are decoded",
                      json_schema_extra={"pattern": r"\S"})  # what not_blank says, stated for clients
    title: str | None = Field(default=None, max_length=1000)
    rating: Whole | None = Field(default=None, ge=1, le=5, description="the reviewer's stars, when known")
    product_id: str | None = Field(default=None, max_length=100)
    date: dt.date | None = None

    @field_validator("text")
    @classmethod
    def not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text is empty")
        return value


class WordWeight(BaseModel):
    word: str
    weight: float = Field(description="signed push towards the answered label")


class ReviewAnalysis(BaseModel):
    label: str = Field(description="sentiment (or stars, for the rating task)")
    probabilities: dict[str, float]
    confidence: float = Field(ge=0, le=1, description="probability of the answered label")
    stars: float | None = Field(default=None, description="expected star rating (rating task)")
    truncated: bool = Field(description="the review was longer than the model reads; only its start was used")
    tokens: int = Field(description="tokens in the review")
    max_tokens: int = Field(description="tokens the model reads")
    words: list[WordWeight] | None = Field(default=None, description='the words that drove the answer, strongest first ("explain": true)')
