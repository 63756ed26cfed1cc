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
REF_FIELDS = ("impl", "builder", "load", "sample", "input_model", "output_model", "decode", "choose_labels", "report")
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
    description: str = ""


@dataclass(frozen=True)
class LabelSchema:
    """What a task predicts. ``labels`` are in output order; ``positive`` is the
    label a binary task scores (its probability is the model's output). A
    ``sequence`` task scores one binary outcome per step (``labels`` name the two)."""

    name: str
    kind: LabelKind
    labels: tuple[Label, ...]
    positive: str | None = None
    version: str = "1"
    description: str = ""

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
    columns: tuple[str, ...] = ()
    validation: float = 0.15
    test: float = 0.15


@dataclass(frozen=True)
class OperatingPolicy:
    """How a classification threshold is chosen on validation data.

    ``max_f1``: the threshold with the best F1; ``sensitivity``: the highest
    threshold whose recall reaches ``target``; ``fpr``: the lowest threshold whose
    false-positive rate stays within ``target``.
    """

    objective: Literal["max_f1", "sensitivity", "fpr"] = "max_f1"
    target: float | None = None


@dataclass(frozen=True)
class Quickstart:
    """What ``aiaas quickstart`` (``make run``) trains for a task: sample size, epochs
    and parameters small enough for a laptop CPU. ``None`` uses the command's own."""

    rows: int | None = None
    epochs: int | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Task:
    """One servable problem of one industry, e.g. ``finance/fraud``.

    The other fields name components registered through the other hooks (label
    schema, adapter, processors, architecture, explainer), so a third-party plugin
    can add alternatives for another plugin's task.

    ``decode(instance) -> dict`` turns one validated API instance into its record
    (an image task decodes the uploaded bytes into pixels); it raises
    ``InvalidInput`` naming what is wrong. Without it a record is the instance's
    fields. ``upload_field`` names the field a ``multipart/form-data`` file part fills,
    so clients can upload files instead of base64 JSON.

    ``choose_labels(raw_labels) -> schema name`` picks the label schema from the
    training data (a sentiment task with or without a neutral class); without it the
    task always uses ``labels``. ``explain_in_predict`` says whether ``/predict``
    answers carry explanations unless the request says ``"explain": false``.
    ``report(pipeline, records, y, probabilities) -> {"name.png": bytes}`` adds figures
    to the evaluation report. The prediction log stores each instance unless
    ``log_inputs`` is False (then only its SHA-256), and never the answer fields in
    ``log_omit`` (a heatmap, an echoed learner id).

    Every answer carries an input check (``aiaas.InputCheck`` records offered to the
    task). A flagged input is answered with the flag, unless ``refuse_unfamiliar``
    names the check that flagged it (``"*"``: any check): then the request gets a 422
    naming the reason (a chest X-ray task refuses a CT slice).
    """

    name: str
    modality: Modality
    labels: str
    input_model: Ref
    output_model: Ref
    preprocessor: str
    postprocessor: str
    default_adapter: str
    default_architecture: str
    metrics: tuple[str, ...]
    sample: Ref
    explainer: str | None = None
    split: SplitPolicy = SplitPolicy()
    operating_point: OperatingPolicy | None = None
    label_column: str = "label"
    choose_labels: Ref | None = None
    decode: Ref | None = None
    upload_field: str | None = None
    explain_in_predict: bool = True
    quickstart: Quickstart = Quickstart()
    report: Ref | None = None
    log_inputs: bool = True
    log_omit: tuple[str, ...] = ()
    refuse_unfamiliar: tuple[str, ...] = ()
    description: str = ""

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
    reads (``"/"`` for a folder), used to pick an adapter when none is named.
    """

    name: str
    task: str
    load: Ref
    suffixes: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Preprocessor:
    """Turns a batch of records into model inputs. ``impl`` names an object with
    ``fit(records, labels, options) -> State`` (``options``: the training request's
    ``--option`` values), ``transform(records, state) -> dict[str, ndarray]`` and
    ``input_model(state, default) -> type[BaseModel]``."""

    name: str
    impl: Ref
    description: str = ""


@dataclass(frozen=True)
class Postprocessor:
    """Turns model outputs for a batch into one domain answer per instance.
    ``impl`` names an object with ``fit(pipeline, records, probabilities, y) -> dict``
    (run on the validation split after training; the JSON it returns is saved with
    the model as ``pipeline.post_state``) and ``answer(batch) -> list[BaseModel]``."""

    name: str
    impl: Ref
    description: str = ""


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
    task: str
    runtime: str
    builder: Ref
    params: dict[str, Any] = field(default_factory=dict)
    preprocessor: str | None = None
    modality: str | None = None
    floor: bool = False
    description: str = ""

    def serves(self, task: Task) -> bool:
        return self.task == task.name or (self.task == ANY_TASK and self.modality == task.modality)


@dataclass(frozen=True)
class Explainer:
    """Explains predictions of one modality. ``impl`` names an object with
    ``explain(pipeline, records) -> list[dict]``; ``runtimes`` empty means any."""

    name: str
    modality: Modality
    impl: Ref
    runtimes: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class InputCheck:
    """A detector of inputs unlike the training data, offered to one task or (``task="*"``)
    to every task of a ``modality``. ``impl`` names an object with ``floor`` (float),
    ``fit(sample) -> State | None`` (None: it does not apply to this model) and
    ``score(sample, state) -> Scores``; see ``aiaas.novelty.base``. Training fits it on
    the training split; the host calibrates all of a task's checks together on validation."""

    name: str
    impl: Ref
    task: str = ANY_TASK
    modality: str | None = None
    description: str = ""

    def serves(self, task: Task) -> bool:
        return self.task == task.name or (self.task == ANY_TASK and self.modality == task.modality)


@dataclass(frozen=True)
class Runtime:
    """A model runtime. ``impl`` names a class implementing ``aiaas.runtimes.base.ModelRuntime``;
    ``requires`` are the import names that must be installed for it to be usable."""

    name: str
    impl: Ref
    requires: tuple[str, ...] = ()
    description: str = ""


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
