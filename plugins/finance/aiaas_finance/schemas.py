"""The API shapes of finance/fraud: one transaction in, one assessment out."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from aiaas import Number

Channel = Literal["pos", "online", "atm"]


class Transaction(BaseModel):
    """One card transaction. The ``customer_*`` history fields are derived from the
    customer's earlier transactions when training from a file; a caller that knows
    them sends them, otherwise they are imputed with typical values. Types are strict: a
    number is a number, not ``true`` or ``"249"``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "transaction_id": "tx-1", "timestamp": "2026-03-14T02:13:00", "amount": 249.0, "currency": "EUR",
        "merchant_category": "5732", "channel": "online", "country": "US", "card_present": False,
        "customer_id": "c-17", "terminal_id": "t-9"}]})

    amount: Number = Field(gt=0, le=1_000_000, description="amount in the transaction's currency")
    timestamp: datetime = Field(description="when the transaction happened (ISO 8601)")
    merchant_category: str = Field(pattern=r"^\d{4}$", description="ISO 18245 merchant category code, e.g. 5411")
    channel: Channel = Field(description="pos (card terminal), online (card not present) or atm")
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166 alpha-2 country of the merchant")
    card_present: StrictBool
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    transaction_id: str | None = None
    customer_id: str | None = None
    terminal_id: str | None = None
    customer_tx_count_1d: Number | None = Field(default=None, ge=0, description="customer's transactions in the last day")
    customer_tx_count_7d: Number | None = Field(default=None, ge=0)
    customer_tx_count_30d: Number | None = Field(default=None, ge=0)
    customer_avg_amount_1d: Number | None = Field(default=None, ge=0, description="customer's mean amount over the last day")
    customer_avg_amount_7d: Number | None = Field(default=None, ge=0)
    customer_avg_amount_30d: Number | None = Field(default=None, ge=0)
    amount_to_avg_30d: Number | None = Field(default=None, ge=0, description="this amount over the 30-day mean")
    hours_since_previous: Number | None = Field(default=None, ge=0, description="hours since the customer's previous transaction")


class ReasonCode(BaseModel):
    code: str = Field(description="stable code for the reason, e.g. R01")
    feature: str
    description: str
    value: float | str | bool | None
    contribution: float = Field(description="how much this feature raised the fraud probability")


class FraudAssessment(BaseModel):
    fraud_probability: float = Field(ge=0, le=1, description="calibrated probability that the transaction is fraud")
    risk_score: int = Field(ge=0, le=1000, description="share of legitimate validation transactions scoring lower, x1000")
    band: Literal["normal", "elevated", "highest"]
    decision: Literal["approve", "review", "block"]
    threshold: float = Field(description="probability at which the model blocks, chosen on validation data")
    reasons: list[ReasonCode] = Field(description="the features that pushed the score up most")
