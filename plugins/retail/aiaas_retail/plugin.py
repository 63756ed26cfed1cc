"""The retail vertical's registrations. Everything heavy is named by import path."""

from __future__ import annotations

import aiaas
from aiaas import Architecture, DataAdapter, Label, LabelSchema, Postprocessor, Preprocessor, Quickstart, Task

AIAAS_API = ">=1.1,<2"  # the hook API versions this plugin is built for

SENTIMENT, RATING = "retail/review-sentiment", "retail/review-rating"
LSTM = {"epochs": 12, "batch_size": 64, "learning_rate": 2e-3, "weight_decay": 1e-4, "patience": 3,
        "embedding": 64, "hidden": 64, "dropout": 0.3}
MINILM = {"epochs": 40, "batch_size": 32, "learning_rate": 1e-2, "weight_decay": 1e-4, "patience": 6, "dropout": 0.1}
# On real, imbalanced three-class reviews (benchmarks/quality.py) the core's TF-IDF over words and character
# n-grams beats the LSTM and the frozen MiniLM encoder, so it serves by default; --arch auto tries them all.
DEFAULT_ARCHITECTURE = "tfidf-linear"
SENTIMENT_METRICS = ("macro_f1", "accuracy")
RATING_METRICS = ("quadratic_weighted_kappa", "accuracy", "macro_f1", "mean_absolute_error", "off_by_one_accuracy")


@aiaas.hookimpl
def register_label_schemas() -> list[LabelSchema]:
    negative, positive = Label("negative", "1-2 stars"), Label("positive", "4-5 stars")
    return [
        LabelSchema(name="retail.sentiment3", kind="multiclass", labels=(negative, Label("neutral", "3 stars"), positive)),
        LabelSchema(name="retail.sentiment2", kind="binary", labels=(negative, positive), positive="positive"),
        LabelSchema(name="retail.rating", kind="multiclass", labels=tuple(Label(str(s), f"{s} star{'s' if s > 1 else ''}") for s in range(1, 6))),
    ]


def _task(name: str, labels: str, metrics: tuple[str, ...], adapter: str, description: str, **extra: object) -> Task:
    return Task(
        name=name, modality="text", labels=labels, input_model="aiaas_retail.schemas:Review",
        output_model="aiaas_retail.schemas:ReviewAnalysis", preprocessor="text-vocab", postprocessor="retail.review-answer",
        default_adapter=adapter, default_architecture=DEFAULT_ARCHITECTURE, explainer="token-attributions", metrics=metrics,
        sample="aiaas_retail.simulator:write_sample", explain_in_predict=False, quickstart=Quickstart(rows=4000, epochs=8),
        description=description, **extra,  # type: ignore[arg-type]
    )


@aiaas.hookimpl
def register_tasks() -> list[Task]:
    return [
        _task(SENTIMENT, "retail.sentiment3", SENTIMENT_METRICS, "retail.reviews-sentiment",
              "Review sentiment: negative / neutral / positive (or negative / positive when the data has no neutral "
              "class), with the words that drove it.", label_column="sentiment",
              choose_labels="aiaas_retail.labels:choose_sentiment"),
        _task(RATING, "retail.rating", RATING_METRICS, "retail.reviews-rating",
              "Star rating 1-5 from the review text: the stars, their expected value, the words that drove it.",
              label_column="rating"),
    ]


@aiaas.hookimpl
def register_data_adapters() -> list[DataAdapter]:
    suffixes = (".csv", ".tsv", ".txt", ".jsonl", ".json")
    described = "CSV, TSV, headerless text<TAB>label .txt or JSONL of reviews; --text-column and --option *_column= name columns"
    return [
        DataAdapter(name="retail.reviews-sentiment", task=SENTIMENT, load="aiaas_retail.adapters:load_for_sentiment",
                    suffixes=suffixes, description=described + "; no label column: sentiment from the rating"),
        DataAdapter(name="retail.reviews-rating", task=RATING, load="aiaas_retail.adapters:load_for_rating",
                    suffixes=suffixes, description=described),
    ]


@aiaas.hookimpl
def register_processors() -> list[Preprocessor | Postprocessor]:
    return [
        Preprocessor(name="retail.minilm-tokens", impl="aiaas_retail.models.minilm:MiniLMTokens",
                     description="all-MiniLM-L6-v2's WordPiece tokenizer, from the installed weights package"),
        Postprocessor(name="retail.review-answer", impl="aiaas_retail.answer:ReviewAnswer",
                      description="label, probabilities, confidence, expected stars, truncation, driving words"),
    ]


@aiaas.hookimpl
def register_architectures() -> list[Architecture]:
    out = []
    for task in (SENTIMENT, RATING):
        out += [
            Architecture(name="lstm", task=task, runtime="torch", builder="aiaas_retail.models.lstm:build", params=LSTM,
                         description="embedding, bidirectional LSTM, masked mean+max pooling; own vocabulary (JSON)"),
            Architecture(name="minilm", task=task, runtime="torch", builder="aiaas_retail.models.minilm:build", params=MINILM,
                         preprocessor="retail.minilm-tokens",
                         description="all-MiniLM-L6-v2 sentence encoder (frozen unless fine_tune=true) with a trained head"),
        ]
    return out
