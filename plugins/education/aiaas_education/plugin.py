"""The education vertical's registrations. Everything heavy is named by import path."""

from __future__ import annotations

import aiaas
from aiaas import (Architecture, DataAdapter, Explainer, InputCheck, Label, LabelSchema, Postprocessor, Preprocessor,
                   Quickstart, SplitPolicy, Task)

AIAAS_API = ">=1.1,<2"  # the hook API versions this plugin is built for

TASK = "education/knowledge-tracing"
DKT = {"epochs": 30, "batch_size": 32, "learning_rate": 2e-3, "weight_decay": 1e-5, "patience": 4,
       "embedding": 64, "hidden": 128, "dropout": 0.2}
SAKT = {"epochs": 30, "batch_size": 32, "learning_rate": 1e-3, "weight_decay": 1e-5, "patience": 4,
        "dimension": 64, "heads": 4, "dropout": 0.2}


@aiaas.hookimpl
def register_label_schemas() -> list[LabelSchema]:
    return [LabelSchema(name="education.next-answer", kind="sequence", positive="correct",
                        labels=(Label("incorrect"), Label("correct")),
                        description="whether each answer of a learner was correct, predicted from the answers before it")]


@aiaas.hookimpl
def register_tasks() -> list[Task]:
    return [Task(
        name=TASK, modality="sequence", labels="education.next-answer",
        input_model="aiaas_education.schemas:LearnerHistory", output_model="aiaas_education.schemas:KnowledgeState",
        decode="aiaas_education.schemas:to_record", preprocessor="education.answer-sequences",
        postprocessor="education.knowledge-state", default_adapter="education.answer-log", default_architecture="dkt",
        explainer="education.answer-influence", metrics=("roc_auc", "accuracy", "rmse"),
        split=SplitPolicy(kind="group", columns=("learner",)), label_column="correct",
        sample="aiaas_education.simulator:write_sample", report="aiaas_education.report:figures",
        quickstart=Quickstart(rows=24_000, epochs=12),
        log_inputs=False, log_omit=("learner",),  # learners are often minors: the prediction log keeps no ids or histories
        subject_field="learner",  # and erasing a learner removes their logged predictions too
        explain_requires=("next",),  # an explanation is of the estimate for the next question
        description="Knowledge tracing: from a learner's past answers, the probability of answering each skill "
                    "correctly next (mastery), the next item's chance and the skills to practise next.",
    )]


@aiaas.hookimpl
def register_data_adapters() -> list[DataAdapter]:
    return [
        DataAdapter(name="education.answer-log", task=TASK, load="aiaas_education.adapters:load_answers",
                    stream="aiaas_education.adapters:stream_answers",
                    suffixes=(".csv", ".tsv", ".txt", ".parquet", ".pq"),
                    description="an answer log (CSV, TSV or Parquet: learner, order or time, skill, correct, optional item, "
                                "attempts, hints, response time), or the DKT three-line format; --option *_column= names columns"),
        DataAdapter(name="education.dkt-lines", task=TASK, load="aiaas_education.adapters:load_dkt_lines",
                    description="the DKT three-line format: per learner a count, comma-separated skill ids, comma-separated 0/1"),
    ]


@aiaas.hookimpl
def register_processors() -> list[Preprocessor | Postprocessor]:
    return [
        Preprocessor(name="education.answer-sequences", impl="aiaas_education.sequences:AnswerSequences",
                     description="skill ids fitted on the training split (rare skills share one id), windows of the most recent answers"),
        Postprocessor(name="education.knowledge-state", impl="aiaas_education.answer:KnowledgeStateAnswer",
                      description="mastery per skill, the next skill's chance, skills to practise next"),
    ]


@aiaas.hookimpl
def register_architectures() -> list[Architecture]:
    return [
        Architecture(name="dkt", task=TASK, runtime="tensorflow", builder="aiaas_education.models.dkt_keras:build", params=DKT,
                     description="deep knowledge tracing: an embedding of (skill, correct), an LSTM, a logit per skill"),
        Architecture(name="dkt", task=TASK, runtime="torch", builder="aiaas_education.models.dkt_torch:build", params=DKT,
                     description="deep knowledge tracing on PyTorch, the same model as on Keras"),
        Architecture(name="sakt", task=TASK, runtime="torch", builder="aiaas_education.models.sakt:build", params=SAKT,
                     description="self-attentive knowledge tracing: each question attends to the learner's earlier answers"),
        Architecture(name="skill-history", task=TASK, runtime="classical", builder="aiaas_education.models.history:build", floor=True,
                     description="logistic regression on each answer's history: attempts, successes, recency, overall rate, skill"),
    ]


@aiaas.hookimpl
def register_explainers() -> list[Explainer]:
    return [Explainer(name="education.answer-influence", modality="sequence", impl="aiaas_education.influence:AnswerInfluence",
                      description="each past answer's signed influence on the next skill's estimate (leave one out)")]


@aiaas.hookimpl
def register_input_checks() -> list[InputCheck]:
    return [InputCheck(name="education.unseen-skills", task=TASK, impl="aiaas_education.checks:UnseenSkills",
                       description="share of a history's answers on skills training never had")]


@aiaas.hookimpl
def register_routes(router, service) -> None:  # noqa: ANN001
    from aiaas_education.learners import add_learner_routes

    add_learner_routes(router, service)
