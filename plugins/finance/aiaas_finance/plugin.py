"""The finance vertical's registrations. Everything heavy is named by import path."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aiaas
from aiaas import (
    DataAdapter,
    Label,
    LabelSchema,
    OperatingPolicy,
    Postprocessor,
    SplitPolicy,
    Task,
)

if TYPE_CHECKING:
    from fastapi import APIRouter

AIAAS_API = ">=1.1,<2"  # the hook API versions this plugin is built for

FRAUD = "finance/fraud"


@aiaas.hookimpl
def register_label_schemas() -> list[LabelSchema]:
    return [
        LabelSchema(
            name="finance.fraud",
            kind="binary",
            labels=(Label("legit", "an ordinary transaction by the card holder"),
                    Label("fraud", "a transaction the card holder did not make")),
            positive="fraud",
        )
    ]


@aiaas.hookimpl
def register_tasks() -> list[Task]:
    return [
        Task(
            name=FRAUD,
            modality="tabular",
            labels="finance.fraud",
            input_model="aiaas_finance.schemas:Transaction",
            output_model="aiaas_finance.schemas:FraudAssessment",
            preprocessor="tabular",
            postprocessor="finance.fraud-answer",
            default_adapter="finance.transactions",
            default_architecture="auto",  # the core's trees and MLPs compete; the best on validation serves
            explainer="feature-ablation",
            metrics=("average_precision", "roc_auc", "recall_at_1pct_fpr", "precision", "recall"),
            split=SplitPolicy(kind="time", columns=("timestamp", "time", "datetime", "date")),
            operating_point=OperatingPolicy("max_f1"),
            sample="aiaas_finance.simulator:write_sample",
            label_column="is_fraud",
            description="Card-transaction fraud: a calibrated probability, a 0-1000 risk score, "
            "a band, a decision and the reasons behind it.",
        )
    ]


@aiaas.hookimpl
def register_data_adapters() -> list[DataAdapter]:
    return [
        DataAdapter(
            name="finance.transactions",
            task=FRAUD,
            load="aiaas_finance.adapters:load_transactions",
            stream="aiaas_finance.adapters:stream_transactions",
            suffixes=(".csv", ".parquet", ".pq"),
            description="CSV or Parquet of transactions; derives each customer's recent-history "
            "features when customer_id, timestamp and amount are present. Any other columns are "
            "used as they are (numeric, categorical, boolean, date-time).",
        )
    ]


@aiaas.hookimpl
def register_processors() -> list[Postprocessor]:
    return [
        Postprocessor(name="finance.fraud-answer", impl="aiaas_finance.answer:FraudAnswer",
                      description="risk score from validation negatives, band, decision, reason codes"),
    ]


@aiaas.hookimpl
def register_routes(router: APIRouter, service: Any) -> None:
    @router.get("/v1/finance/fraud/reason-codes", tags=[FRAUD], summary="What each reason code in the served version's answers means",
                responses={503: {"description": "no version of finance/fraud is served"}})
    async def reason_codes() -> dict[str, str]:
        """The codes the served version's answers can carry: a version trained on a team's own columns has
        codes naming those columns (``X:column``), not the simulator's."""
        from aiaas_finance.answer import reason_for

        pipeline = await service.pipeline(FRAUD)
        columns = pipeline.preprocessor.feature_columns(pipeline.pre_state) if hasattr(pipeline.preprocessor, "feature_columns") else []
        return dict(sorted({reason_for(column) for column in columns}))
