"""A weighted ensemble of fitted candidates: the weighted average of their calibrated
probabilities, the weights chosen by greedy ensemble selection on out-of-fold
predictions (Caruana et al., 2004; AutoGluon's weighted ensemble).

It is assembled by ``--arch auto`` from candidates already fitted on the same inputs
(``aiaas.crossval``), never trained on its own. Each member is saved in its own folder
in its runtime's format and loaded through that runtime. Members are the core's own
table architectures on the core's runtimes, found by name: a manifest names them, it
never names code to import, so a version from someone else cannot run code on load.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from aiaas.calibration import calibrated
from aiaas.classical.base import Estimator, Selection
from aiaas.errors import UserError
from aiaas.records import Architecture, resolve
from aiaas.runtimes.base import Arrays, FitConfig, ModelSpec

ROUNDS = 25
"""Greedy selection steps: a member's weight is how many steps chose it, over this."""


def greedy_weights(probabilities: list[np.ndarray], score: Callable[[np.ndarray], float], rounds: int = ROUNDS) -> np.ndarray:
    """Weights over ``probabilities`` (each candidate's calibrated out-of-fold probabilities of the same rows):
    starting empty, add (with replacement) the candidate whose addition scores best, ``rounds`` times."""
    counts = np.zeros(len(probabilities))
    total = np.zeros_like(probabilities[0], dtype="float64")
    for step in range(1, rounds + 1):
        best = max(range(len(probabilities)), key=lambda i: score((total + probabilities[i]) / step))
        counts[best] += 1
        total += probabilities[best]
    return counts / counts.sum()


class Ensemble(Estimator):
    exact = False  # an average of probabilities has no exact per-feature split: explanations ablate instead

    def __init__(self, spec: ModelSpec, params: dict[str, Any]) -> None:
        super().__init__(spec, params)
        self.members: list[tuple[Any, Any]] = []  # (runtime, model)

    @classmethod
    def of(cls, spec: ModelSpec, members: list[tuple[Architecture, Any, Any, dict[str, Any], dict[str, Any] | None, float]]) -> Ensemble:
        """From fitted members: (architecture, runtime, model, params, calibration, weight); those of weight 0 are left out."""
        kept = [m for m in members if m[5] > 0]
        described = [{"architecture": a.name, "runtime": a.runtime, "params": params, "calibration": calibration, "weight": float(weight)}
                     for a, runtime, _, params, calibration, weight in kept]
        ensemble = cls(spec, {"members": described})
        ensemble.members = [(runtime, model) for _, runtime, model, *_ in kept]
        return ensemble

    def fit(self, train: tuple[Arrays, np.ndarray, np.ndarray], validation: tuple[Arrays, np.ndarray],
            config: FitConfig, selection: Selection) -> list[dict[str, float]]:
        raise UserError("the ensemble is assembled by --arch auto from the other candidates on small data; it is not trained on its own")

    def probabilities(self, inputs: Arrays) -> np.ndarray:
        kind = self.spec.kind
        out = None
        for (runtime, model), member in zip(self.members, self.params["members"]):
            p = member["weight"] * calibrated(runtime.predict_logits(model, inputs), kind, member["calibration"])
            out = p if out is None else out + p
        assert out is not None
        return out

    def logits(self, inputs: Arrays) -> np.ndarray:
        """The logits whose activation is the weighted average (the version's calibration is then left as it is)."""
        p = np.clip(self.probabilities(inputs), 1e-7, 1 - 1e-7)
        if self.spec.kind == "binary":
            return np.log(p / (1 - p)).reshape(-1, 1).astype("float32")
        return np.log(p).astype("float32")

    def save(self, directory: Path) -> None:
        for i, (runtime, model) in enumerate(self.members):
            folder = directory / f"member-{i}"
            folder.mkdir(parents=True, exist_ok=True)
            runtime.save(model, folder)

    def load(self, directory: Path) -> None:
        self.members = []
        for i, member in enumerate(self.params["members"]):
            architecture, runtime = member_parts(member["architecture"], member["runtime"])
            self.members.append((runtime, runtime.load(directory / f"member-{i}", architecture, self.spec, member["params"])))


def can_join(architecture: Architecture) -> bool:
    """Whether a candidate can be a member: one of the core's own table architectures (``member_parts`` finds it by name)."""
    from aiaas.default_plugins.architectures import register_architectures

    return any((a.name, a.runtime) == (architecture.name, architecture.runtime) and a.builder == architecture.builder and not a.assembled
               for a in register_architectures())


def member_parts(name: str, runtime_name: str) -> tuple[Architecture, Any]:
    """The core's table architecture and runtime of this name: a manifest names members, never code."""
    from aiaas.default_plugins.architectures import register_architectures
    from aiaas.default_plugins.runtimes import register_runtimes

    architecture = next((a for a in register_architectures() if (a.name, a.runtime) == (name, runtime_name) and not a.assembled), None)
    record = next((r for r in register_runtimes() if r.name == runtime_name), None)
    if architecture is None or record is None:
        raise UserError(f"an ensemble member names {name!r} on {runtime_name!r}, which is not one of the core's table architectures")
    return architecture, resolve(record.impl)()


def build(spec: ModelSpec, params: dict[str, Any]) -> Ensemble:
    return Ensemble(spec, params)
