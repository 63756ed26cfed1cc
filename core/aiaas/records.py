"""The typed records that plugins return from registration hooks.

Records are frozen dataclasses: cheap to build at discovery time. Anything heavy
(a preprocessor that needs pandas, a model builder that needs torch) is named by a
``Ref``: either the object itself or an import path ``"package.module:attribute"``
that the host imports the first time it is used, exactly like an entry point. That
keeps ``aiaas plugins`` and CLI start-up free of pandas, torch and tensorflow.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from typing import Any, Literal

Ref = Any
"""An object, or ``"package.module:attribute"`` naming one (imported on first use)."""

Modality = Literal["tabular", "image", "text", "sequence"]
LabelKind = Literal["binary", "multiclass", "multilabel", "regression", "sequence"]

TASK_NAME = re.compile(r"^[a-z][a-z0-9_-]*/[a-z][a-z0-9_-]*$")
COMPONENT_NAME = re.compile(r"^[a-z][a-z0-9_.-]*$")
REF_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
REF_FIELDS = ("impl", "builder", "load", "stream", "sample", "input_model", "output_model", "decode", "measure", "choose_labels", "report")
"""Record fields that name code by ``module:attribute``."""
METRIC_NAMES = frozenset({
    "average_precision", "roc_auc", "recall_at_1pct_fpr", "precision", "recall", "sensitivity", "specificity", "f1", "accuracy",
    "balanced_accuracy", "macro_f1", "brier", "calibration_error", "rmse", "mean_absolute_error", "off_by_one_accuracy",
    "quadratic_weighted_kappa",
})
"""The metrics a task may name (``aiaas.metrics.METRICS`` computes them; a test keeps the two equal)."""


def resolve(ref: Ref) -> Any:
    """Return the object a ``Ref`` names, importing its module if it is a path."""
    if not isinstance(ref, str):
        return ref
    if not REF_PATH.match(ref):
        raise ValueError(f"{ref!r} is not an import path of the form 'package.module:attribute'")
    module_name, _, attr = ref.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class Label:
    name: str
    """The label as data and answers spell it: ``"fraud"``."""
    description: str = ""
    """What the label means, for the docs and ``aiaas tasks``."""


@dataclass(frozen=True)
class LabelSchema:
    """What a task predicts. ``labels`` are in output order; ``positive`` is the
    label a binary task scores (its probability is the model's output). A
    ``sequence`` task scores one binary outcome per step (``labels`` name the two)."""

    name: str
    """Namespaced name a task refers to: ``"finance.fraud"``."""
    kind: LabelKind
    """``binary``, ``multiclass``, ``multilabel``, ``regression`` or ``sequence``: decides the final activation, the loss and the metrics."""
    labels: tuple[Label, ...]
    """The labels in the model's output order: ``(Label("legit"), Label("fraud"))``."""
    positive: str | None = None
    """The label a binary task scores (its probability is the model's output)."""
    version: str = "1"
    """Bumped when the labels change meaning; recorded with every model trained on it."""
    description: str = ""
    """What the schema is for."""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(label.name for label in self.labels)

    @property
    def outputs(self) -> int:
        """Width of the model's final layer (one logit for binary and regression)."""
        return 1 if self.kind in ("binary", "regression", "sequence") else len(self.labels)


@dataclass(frozen=True)
class SplitPolicy:
    """How a data set is cut into train, validation and test.

    ``time``: ordered by the first of ``columns`` present in the data (the newest
    rows are the test set); ``group``: every value of the first present column stays
    in one split (patients, learners); ``random``: stratified on the label. When no
    named column is present, the split falls back to ``random`` and says so.
    """

    kind: Literal["random", "time", "group"] = "random"
    """``random`` (stratified), ``time`` (newest rows are the test set) or ``group`` (a group stays in one split)."""
    columns: tuple[str, ...] = ()
    """The columns ``time`` orders by or ``group`` groups by; the first present one is used: ``("timestamp",)``."""
    validation: float = 0.15
    """Share of rows for validation (early stopping, calibration, the operating point)."""
    test: float = 0.15
    """Share of rows held out for the report's metrics."""


@dataclass(frozen=True)
class OperatingPolicy:
    """How a classification threshold is chosen on validation data.

    ``max_f1``: the threshold with the best F1; ``sensitivity``: the highest
    threshold whose recall reaches ``target``; ``fpr``: the lowest threshold whose
    false-positive rate stays within ``target``.
    """

    objective: Literal["max_f1", "sensitivity", "fpr"] = "max_f1"
    """``max_f1``, ``sensitivity`` (reach a recall) or ``fpr`` (stay within a false-positive rate)."""
    target: float | None = None
    """The recall or false-positive rate the objective aims at: ``0.95``."""


@dataclass(frozen=True)
class Quickstart:
    """What ``aiaas quickstart`` (``make run``) trains for a task: sample size, epochs
    and parameters small enough for a laptop CPU. ``None`` uses the command's own."""

    rows: int | None = None
    """Sample rows ``aiaas quickstart`` writes and trains on."""
    epochs: int | None = None
    """Epochs it trains for."""
    params: dict[str, Any] = field(default_factory=dict)
    """Architecture or trainer parameters it overrides: ``{"batch_size": 32}``."""


@dataclass(frozen=True)
class Task:
    """One servable problem of one industry, e.g. ``finance/fraud``.

    The other fields name components registered through the other hooks (label
    schema, adapter, processors, architecture, explainer), so a third-party plugin
    can add alternatives for another plugin's task.

    Each field is documented below it (and in docs/plugin-reference.md, generated from
    these docstrings by ``aiaas plugin reference``).

    Every answer carries an input check (``aiaas.InputCheck`` records offered to the
    task). A flagged input is answered with the flag, unless ``refuse_unfamiliar``
    names the check that flagged it (``"*"``: any check): then the request gets a 422
    naming the reason (a chest X-ray task refuses a CT slice).
    """

    name: str
    """``industry/task``: ``"finance/fraud"``; also the URL: ``/v1/finance/fraud/predict``."""
    modality: Modality
    """``tabular``, ``image``, ``text`` or ``sequence``: which core parts (architectures, explainers, input checks) are offered to it."""
    labels: str
    """The name of its ``LabelSchema``."""
    input_model: Ref
    """The pydantic model of one API instance: ``"aiaas_finance.schemas:Transaction"``."""
    output_model: Ref
    """The pydantic model of one answer; with the ``classification`` postprocessor, ``"aiaas:Classification"``."""
    preprocessor: str
    """The ``Preprocessor`` that turns records into model inputs: ``"tabular"``."""
    postprocessor: str
    """The ``Postprocessor`` that turns outputs into answers: ``"classification"``."""
    default_adapter: str
    """The ``DataAdapter`` used when the data's suffix does not pick one."""
    default_architecture: str
    """The architecture ``aiaas train`` fits without ``--arch``; ``auto`` fits every installed candidate and keeps the best."""
    metrics: tuple[str, ...]
    """Metrics of the report, the first driving early stopping and selection: ``("roc_auc", "average_precision")``."""
    sample: Ref
    """``sample(out, rows, seed, **options) -> Path``: writes seeded sample data the default adapter reads."""
    explainer: str | None = None
    """The ``Explainer`` for ``/explain`` and ``"explain": true`` (classical models use their exact one)."""
    split: SplitPolicy = SplitPolicy()
    """How the data is split: ``SplitPolicy(kind="time", columns=("timestamp",))``."""
    operating_point: OperatingPolicy | None = None
    """How a binary task's threshold is chosen on validation (default: best F1)."""
    label_column: str = "label"
    """The column holding the label in training data (``--label`` overrides it)."""
    choose_labels: Ref | None = None
    """``choose_labels(raw_labels) -> schema name``: picks the label schema from the data."""
    decode: Ref | None = None
    """``decode(instance) -> dict``: one validated instance to its record (an upload to pixels); raises ``InvalidInput``."""
    measure: Ref | None = None
    """``measure(instance) -> int | None``: the pixels an instance will decode to, read from its headers without
    decoding it: ``"aiaas.vision:instance_pixels"``. A request whose instances add up past ``AIAAS_MAX_REQUEST_PIXELS``
    is refused (413) before any of them decodes."""
    upload_field: str | None = None
    """The field a ``multipart/form-data`` file part fills: ``"image"``."""
    explain_requires: tuple[str, ...] = ()
    """Input fields ``/explain`` needs that ``/predict`` does not: ``("next",)``; the explain request's schema requires them."""
    explain_in_predict: bool = True
    """Whether ``/predict`` answers carry explanations unless the request says ``"explain": false``."""
    quickstart: Quickstart = Quickstart()
    """What ``aiaas quickstart`` trains for this task."""
    report: Ref | None = None
    """``report(pipeline, records, y, probabilities) -> {"name.png": bytes}``: figures added to the evaluation report."""
    log_inputs: bool = True
    """False: the prediction log keeps each instance's keyed fingerprint (HMAC-SHA256 under the service's secret), not the instance."""
    log_omit: tuple[str, ...] = ()
    """Answer fields the prediction log never stores: ``("heatmap",)``."""
    subject_field: str | None = None
    """The input field that names a person whose data can be erased (``"learner"``): the prediction log keeps a keyed
    pseudonym of it, so ``Service.erase_predictions`` removes that person's logged predictions and feedback."""
    refuse_unfamiliar: tuple[str, ...] = ()
    """Input checks whose flag gets a 422 instead of an answer (``"*"``: any check)."""
    description: str = ""
    """One line for ``aiaas tasks`` and the API docs."""

    @property
    def industry(self) -> str:
        return self.name.split("/")[0]

    @property
    def short_name(self) -> str:
        return self.name.split("/")[1]


@dataclass(frozen=True)
class DataAdapter:
    """Reads a source into the task's canonical records.

    ``load(path, options) -> aiaas.Dataset``; ``suffixes`` are the file endings it
    reads (``"/"`` for a folder), used to pick an adapter when none is named;
    ``stream`` (optional) reads the same records in bounded chunks.
    """

    name: str
    """Namespaced name: ``"finance.transactions"``."""
    task: str
    """The task it reads data for (any plugin's)."""
    load: Ref
    """``load(path, options: LoadOptions) -> Dataset``: records and raw labels."""
    suffixes: tuple[str, ...] = ()
    """File endings it reads, ``"/"`` for a folder: ``(".csv", ".parquet")``."""
    description: str = ""
    """What it reads, for ``aiaas tasks`` and errors."""
    stream: Ref | None = None
    """``stream(path, options: LoadOptions, batch_rows) -> Iterator[Dataset]``: the same records in chunks of at
    most ``batch_rows``, read with bounded memory (a file, a folder or a glob of them). Out-of-core training and
    batch scoring use it; an adapter without it is read whole and cut into chunks (``aiaas.dataplane.chunks``)."""
    parts: bool = False
    """The stream form reads one part of the source when ``options.part = (i, n)`` is set (chunk k of the
    source belongs to part k mod n), so a cluster reads a source that is not a set of table files (an
    image folder, a manifest) in parallel. Without it, a cluster's unit of work is a table file."""


@dataclass(frozen=True)
class Preprocessor:
    """Turns a batch of records into model inputs. ``impl`` names an object with
    ``fit(records, labels, options) -> State`` (``options``: the training request's
    ``--option`` values), ``transform(records, state) -> dict[str, ndarray]`` and
    ``input_model(state, default) -> type[BaseModel]``."""

    name: str
    """Namespaced name (the core's: ``tabular``, ``image``, ``text-vocab``, ``text-documents``)."""
    impl: Ref
    """An object with ``fit``, ``transform`` and ``input_model``; a class is instantiated once."""
    description: str = ""
    """What it does."""


@dataclass(frozen=True)
class Postprocessor:
    """Turns model outputs for a batch into one domain answer per instance.
    ``impl`` names an object with ``fit(pipeline, records, probabilities, y) -> dict``
    (run on the validation split after training; the JSON it returns is saved with
    the model as ``pipeline.post_state``) and ``answer(batch) -> list[BaseModel]``."""

    name: str
    """Namespaced name (the core's: ``classification``)."""
    impl: Ref
    """An object with ``fit(pipeline, records, probabilities, y) -> dict`` and ``answer(batch) -> list[BaseModel]``."""
    description: str = ""
    """What its answers hold."""


ANY_TASK = "*"
AUTO = "auto"


@dataclass(frozen=True)
class Architecture:
    """A model builder for one task on one runtime.

    ``builder(spec: ModelSpec, params: dict)`` returns the runtime's native model
    (a ``torch.nn.Module`` taking a dict of tensors, a Keras model with named
    inputs) whose outputs are logits; the runtime adds the activation and the loss
    that the label kind calls for. ``preprocessor`` overrides the task's when the
    model needs its own inputs (a pretrained encoder's tokenizer).

    ``task="*"`` with a ``modality`` offers the architecture to every task of that
    modality (the core's gradient-boosted trees for every table); a task's own
    architecture of the same name and runtime takes its place. ``floor`` marks the
    task's classical floor: every report compares the model with it on the same split.
    """

    name: str
    """The name ``--arch`` takes: ``"resnet18"``; unique per task and runtime."""
    task: str
    """The task it serves (any plugin's), or ``"*"`` with ``modality`` for every task of a modality."""
    runtime: str
    """``torch``, ``tensorflow``, ``classical`` or a plugin's runtime."""
    builder: Ref
    """``builder(spec: ModelSpec, params: dict)`` -> the runtime's model, whose outputs are logits."""
    params: dict[str, Any] = field(default_factory=dict)
    """Builder parameters, plus trainer ones (``epochs``, ``batch_size``, ``learning_rate``, ``weight_decay``, ``seed``, ``patience``)."""
    preprocessor: str | None = None
    """A preprocessor that replaces the task's for this model (a pretrained encoder's tokenizer)."""
    modality: str | None = None
    """With ``task="*"``: the modality it is offered to."""
    floor: bool = False
    """True: the classical floor every report of the task compares with."""
    description: str = ""
    """One line for ``aiaas tasks`` and reports."""
    assembled: bool = False
    """True: built by ``--arch auto`` from the other candidates (a weighted ensemble), never trained on its own."""

    def serves(self, task: Task) -> bool:
        return self.task == task.name or (self.task == ANY_TASK and self.modality == task.modality)


@dataclass(frozen=True)
class Explainer:
    """Explains predictions of one modality. ``impl`` names an object with
    ``explain(pipeline, records) -> list[dict]``; ``runtimes`` empty means any."""

    name: str
    """Namespaced name a task's ``explainer`` names: ``"feature-ablation"``."""
    modality: Modality
    """The modality it explains."""
    impl: Ref
    """An object with ``explain(pipeline, records, probabilities) -> list[dict]``."""
    runtimes: tuple[str, ...] = ()
    """The runtimes it can explain; empty: any."""
    description: str = ""
    """What its explanation holds."""


@dataclass(frozen=True)
class InputCheck:
    """A detector of inputs unlike the training data, offered to one task or (``task="*"``)
    to every task of a ``modality``. ``impl`` names an object with ``floor`` (float),
    ``fit(sample) -> State | None`` (None: it does not apply to this model) and
    ``score(sample, state) -> Scores``; see ``aiaas.novelty.base``. Training fits it on
    the training split; the host calibrates all of a task's checks together on validation."""

    name: str
    """Namespaced name ``refuse_unfamiliar`` can name: ``"healthcare.dicom-modality"``."""
    impl: Ref
    """An object with ``floor``, ``fit(sample) -> State | None`` and ``score(sample, state) -> Scores``."""
    task: str = ANY_TASK
    """The task it checks, or ``"*"`` with ``modality`` for every task of a modality."""
    modality: str | None = None
    """With ``task="*"``: the modality it is offered to."""
    description: str = ""
    """What it flags."""

    def serves(self, task: Task) -> bool:
        return self.task == task.name or (self.task == ANY_TASK and self.modality == task.modality)


@dataclass(frozen=True)
class Runtime:
    """A model runtime. ``impl`` names a class implementing ``aiaas.runtimes.base.ModelRuntime``;
    ``requires`` are the import names that must be installed for it to be usable."""

    name: str
    """The name architectures give as ``runtime``."""
    impl: Ref
    """A class implementing ``aiaas.runtimes.base.ModelRuntime``."""
    requires: tuple[str, ...] = ()
    """Import names that must be installed for it to be used: ``("torch",)``."""
    description: str = ""
    """What it runs."""


RECORD_TYPES: dict[str, type] = {
    "register_tasks": Task,
    "register_label_schemas": LabelSchema,
    "register_data_adapters": DataAdapter,
    "register_processors": (Preprocessor, Postprocessor),  # type: ignore[dict-item]
    "register_architectures": Architecture,
    "register_explainers": Explainer,
    "register_runtimes": Runtime,
    "register_input_checks": InputCheck,
}
