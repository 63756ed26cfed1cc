"""A trained model with everything around it: records -> inputs -> model -> answers.

One ``Pipeline`` serves one model version. It works on batches: a DataFrame of
many instances is preprocessed once, run through the model once and answered.
"""

from __future__ import annotations

import json
import math
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aiaas.calibration import calibrated
from aiaas.errors import InvalidInput, Refused
from aiaas.integrity import MANIFEST
from aiaas.novelty.guard import Guard
from aiaas.records import LabelSchema, Task, resolve
from aiaas.runtimes.base import ModelSpec
from aiaas.state import State

if TYPE_CHECKING:
    from pydantic import BaseModel

    from aiaas.novelty.base import Finding
    from aiaas.plugins import Host

PREPROCESSOR_STATE = "preprocessor"


@dataclass
class Batch:
    """What a postprocessor answers from: the records and, on first use, the calibrated
    probabilities and the task's explanation of each prediction (an answer that asks
    the model something else, such as every skill's mastery, pays for neither).
    ``explain`` False says the caller does not need explanations (offline scoring), so a
    postprocessor whose explanations are costly (a heatmap per image) leaves them out."""

    records: pd.DataFrame
    pipeline: Pipeline
    explain: bool = True

    @cached_property
    def probabilities(self) -> np.ndarray:
        return self.pipeline.probabilities(self.records)

    @cached_property
    def explanations(self) -> list[dict[str, Any]]:
        return self.pipeline.explain(self.records, probabilities=self.probabilities)


@dataclass
class Pipeline:
    task: Task
    labels: LabelSchema
    runtime_name: str
    runtime: Any
    model: Any
    preprocessor: Any
    pre_state: State
    postprocessor: Any
    manifest: dict[str, Any]
    explainer: Any | None = None
    version: int | None = None
    guard: Guard | None = None
    source: Callable[[], Pipeline] | None = field(default=None, repr=False)
    """An optimised version's source model, loaded when an explanation needs it."""
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _last_inputs: tuple[Any, dict[str, np.ndarray]] | None = field(default=None, repr=False)
    _last_outputs: tuple[Any, np.ndarray, np.ndarray | None] | None = field(default=None, repr=False)

    def memo(self, key: str, make: Callable[[], Any]) -> Any:
        """What ``make`` returns, made once per served version (work that need not be done per request)."""
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    @property
    def post_state(self) -> dict[str, Any]:
        return self.manifest.get("postprocessor", {})

    @property
    def threshold(self) -> float:
        return float(self.manifest.get("operating_point", {}).get("threshold", 0.5))

    @cached_property
    def input_model(self) -> type[BaseModel]:
        return self.preprocessor.input_model(self.pre_state, resolve(self.task.input_model))

    @cached_property
    def output_model(self) -> type[BaseModel]:
        return resolve(self.task.output_model)

    def inputs(self, records: pd.DataFrame) -> dict[str, np.ndarray]:
        """The model inputs of a batch, made once: the probabilities and an exact explanation
        of the same records share them (a one-slot cache by identity, safe across threads)."""
        cached = self._last_inputs
        if cached is not None and cached[0]() is records:
            return cached[1]
        made = self.preprocessor.transform(records, self.pre_state)
        self._last_inputs = (weakref.ref(records), made)
        return made

    def embeddings(self, records: pd.DataFrame) -> np.ndarray | None:
        """The model's own features of each record (the input of its last layer), when the
        runtime gives them; the logits of the same pass are kept for ``probabilities``."""
        if not hasattr(self.runtime, "embed"):
            return None
        cached = self._last_outputs
        if cached is not None and cached[0]() is records:
            return cached[2]
        inputs = self.inputs(records)
        with self._lock:
            logits, embedded = self.runtime.embed(self.model, inputs)
        self._last_outputs = (weakref.ref(records), logits, embedded)
        return embedded

    def probabilities(self, records: pd.DataFrame) -> np.ndarray:
        cached = self._last_outputs
        if cached is not None and cached[0]() is records:
            p = calibrated(cached[1], self.labels.kind, self.manifest.get("calibration"))
        else:
            p = self.run(self.inputs(records))
        unanswerable = ~np.isfinite(p.reshape(len(p), -1)).all(axis=1)
        if unanswerable.any():  # values so far from training that the model's arithmetic overflowed
            raise InvalidInput("the model cannot give a number for this instance: its values are far outside what it was trained on",
                               (int(np.flatnonzero(unanswerable)[0]),))
        return p

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Calibrated probabilities for model inputs a postprocessor or explainer built
        itself (a knowledge-tracing answer asks about every skill at once)."""
        with self._lock:  # runtimes are not all safe to call from many threads at once
            logits = self.runtime.predict_logits(self.model, inputs)
        return calibrated(logits, self.labels.kind, self.manifest.get("calibration"))

    def predict(self, records: pd.DataFrame, explain: bool = True) -> list[BaseModel]:
        if records.empty:
            return []
        batch = Batch(records, self, explain)
        return self.postprocessor.answer(batch)

    def check(self, records: pd.DataFrame) -> Finding | None:
        """How unlike the training data each record is (None for a version trained without input checks)."""
        from aiaas.novelty.base import Sample

        return self.guard.check(Sample(records, self)) if self.guard is not None and len(records) else None

    def answers(self, records: pd.DataFrame, explain: bool = True, refuse: bool = True) -> list[dict[str, Any]]:
        """Each record's answer as JSON with its ``input_check``. A record the task refuses
        raises ``InvalidInput`` naming it (``refuse``) or is answered by its check alone."""
        finding = self.check(records)
        if finding is None:
            return [a.model_dump(mode="json") for a in self.predict(records, explain)]
        checks = self.guard.answers(finding)  # type: ignore[union-attr]
        refused = [i for i, why in enumerate(finding.refused) if why]
        if refused and refuse:
            self.refuse(finding)
        answerable = records.iloc[[i for i, why in enumerate(finding.refused) if not why]] if refused else records
        answered = iter(self.predict(answerable, explain))
        out = []
        for i, check in enumerate(checks):
            answer = {} if finding.refused[i] else next(answered).model_dump(mode="json")
            out.append({**answer, "input_check": {**check, **({"refused": True} if finding.refused[i] else {})}})
        return out

    def refuse(self, finding: Finding | None) -> None:
        """Raise ``Refused`` naming the first record the task does not answer, if any."""
        first = next((i for i, why in enumerate(finding.refused) if why), None) if finding is not None else None
        if first is not None:
            raise Refused(f"{self.task.name} does not answer this input: {finding.refused[first]}", (first,))  # type: ignore[union-attr]

    @cached_property
    def _source(self) -> Pipeline | None:
        return self.source() if self.source is not None else None

    def explain(self, records: pd.DataFrame, probabilities: np.ndarray | None = None) -> list[dict[str, Any]]:
        if self.explainer is None and self._source is not None:
            return self._source.explain(records, probabilities)
        if self.explainer is None:
            raise InvalidInput(f"{self.task.name} on runtime {self.runtime_name} has no explainer")
        return self.explainer.explain(self, records, probabilities)

    def rows_from(self, instances: list[BaseModel]) -> list[dict[str, Any]]:
        """One record per validated API instance, through the task's ``decode`` when it has one."""
        if self.task.decode is None:
            rows = [_utc_naive(instance.model_dump()) for instance in instances]
            _finite(rows)
            return rows
        from aiaas.errors import TooLarge
        from aiaas.settings import get_settings

        decode = resolve(self.task.decode)
        budget, used = get_settings().max_request_pixels, 0
        if self.task.measure is not None:  # refuse from what the headers declare, before any file decodes
            measure, declared = resolve(self.task.measure), 0
            for i, instance in enumerate(instances):
                declared += measure(instance) or 0
                if declared > budget:
                    raise TooLarge(f"the request's images would decode to more than {budget:,} pixels in all (their headers say so); "
                                   "send fewer per request", (i,))
        rows = []
        for i, instance in enumerate(instances):
            try:
                rows.append(decode(instance))
            except InvalidInput as exc:
                raise type(exc)(str(exc), (i, *exc.loc)) from None
            used += sum(v.size for v in rows[-1].values() if isinstance(v, np.ndarray))
            if used > budget:  # each file is checked against its own limit before decoding; this bounds their sum
                raise TooLarge(f"the request's images decode to more than {budget:,} pixels in all; send fewer per request", (i,))
        return rows

    # -- persistence --------------------------------------------------------------

    @classmethod
    def load(cls, host: Host, directory: Path, version: int | None = None, runtime_name: str | None = None) -> Pipeline:
        """``runtime_name``: load an optimised version's source model instead (it keeps the source's files)."""
        manifest = json.loads((directory / MANIFEST).read_text())
        task = host.task(manifest["task"])
        runtime_name = runtime_name or manifest["runtime"]
        source_runtime = manifest.get("optimized", {}).get("from_runtime")
        architecture = host.architecture(task, manifest["architecture"], source_runtime or runtime_name)
        runtime = host.runtime(runtime_name)
        spec = ModelSpec.from_json(manifest["spec"])
        model = runtime.load(directory, architecture, spec, manifest.get("params", {}))
        explainer = host.explainer(task, runtime_name)
        source = None
        if explainer is None and source_runtime and source_runtime != runtime_name and host.runtime_installed(source_runtime):
            def source() -> Pipeline:  # an explanation that needs the framework (a heatmap's gradients) asks the source model
                return cls.load(host, directory, version, source_runtime)
        return cls(
            task=task,
            labels=host.label_schema(task, manifest.get("labels")),
            runtime_name=runtime_name,
            runtime=runtime,
            model=model,
            preprocessor=host.preprocessor(task, architecture),
            pre_state=State.load(directory, PREPROCESSOR_STATE),
            postprocessor=host.postprocessor(task),
            manifest=manifest,
            explainer=explainer,
            version=version,
            guard=Guard.load(host, task, directory),
            source=source,
        )


def _finite(rows: list[dict[str, Any]]) -> None:
    """Refuse an infinite or NaN number before any check or model sees it (JSON has none,
    but a schema's float accepts the strings "Infinity" and "NaN")."""
    for i, row in enumerate(rows):
        for name, value in row.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise InvalidInput(f"{name}: {value} is not a finite number", (i, name))


def _utc_naive(record: dict[str, Any]) -> dict[str, Any]:
    """Times with a zone become UTC without one, so instances that mix zones (or mix zoned
    and plain times) make one column of one kind."""
    from datetime import UTC, datetime

    return {k: v.astimezone(UTC).replace(tzinfo=None) if isinstance(v, datetime) and v.tzinfo else v for k, v in record.items()}
