"""The interface a classical model implements, and what the ``classical`` runtime gives it."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aiaas.runtimes.base import Arrays, FitConfig, ModelSpec

STATE = "estimator"


@dataclass
class Selection:
    """What a fit is judged by: the task's first metric on the validation split, as
    ``score(validation logits)`` (higher is better), and a progress callback."""

    score: Callable[[np.ndarray], float]
    report: Callable[[str], None] = lambda status: None


class Estimator(ABC):
    """A model fitted in one call. ``meta`` (JSON) and ``arrays`` (safetensors) are its
    whole state unless it overrides ``save``/``load`` (a library's own text format)."""

    def __init__(self, spec: ModelSpec, params: dict[str, Any]) -> None:
        self.spec, self.params = spec, params
        self.meta: dict[str, Any] = {}
        self.arrays: dict[str, np.ndarray] = {}

    @abstractmethod
    def fit(self, train: tuple[Arrays, np.ndarray, np.ndarray], validation: tuple[Arrays, np.ndarray],
            config: FitConfig, selection: Selection) -> list[dict[str, float]]:
        """Fit on (inputs, targets, class-balancing weights); choose settings on validation;
        return a history of (setting, validation score) rows for the report."""

    @abstractmethod
    def logits(self, inputs: Arrays) -> np.ndarray: ...

    def contributions(self, inputs: Arrays) -> tuple[np.ndarray, np.ndarray]:
        """Exact per-feature contributions to each logit, ``(rows, outputs, features)``, and the
        bias ``(rows, outputs)``: each logit is its contributions' sum plus its bias."""
        raise NotImplementedError(f"{type(self).__name__} does not explain itself")

    def save(self, directory: Path) -> None:
        from safetensors.numpy import save_file

        (directory / f"{STATE}.json").write_text(json.dumps(self.meta, indent=1))
        if self.arrays:
            save_file({k: np.ascontiguousarray(v) for k, v in self.arrays.items()}, str(directory / f"{STATE}.safetensors"))

    def load(self, directory: Path) -> None:
        from safetensors.numpy import load_file

        self.meta = json.loads((directory / f"{STATE}.json").read_text())
        path = directory / f"{STATE}.safetensors"
        self.arrays = load_file(str(path)) if path.exists() else {}
