"""The one interface every runtime implements, and the spec a model is built from."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from aiaas.records import Architecture

Arrays = dict[str, "np.ndarray"]


@dataclass(frozen=True)
class ModelSpec:
    """Per-instance input shapes (``{"features": (31,)}``), the width of the final
    layer and the label kind, which decides activation and loss. ``hints`` are facts
    of the fitted preprocessor a builder needs (``{"vocabulary_size": 5000}``): a
    preprocessor offers them with ``model_hints(state) -> dict``."""

    inputs: dict[str, tuple[int, ...]]
    outputs: int
    kind: str
    dtypes: dict[str, str] = field(default_factory=dict)
    hints: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelSpec:
        return cls(
            inputs={k: tuple(v) for k, v in data["inputs"].items()},
            outputs=data["outputs"],
            kind=data["kind"],
            dtypes=data.get("dtypes", {}),
            hints=data.get("hints", {}),
        )


@dataclass(frozen=True)
class FitConfig:
    epochs: int = 20
    batch_size: int = 256
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0


FIT_PARAMS = frozenset({f.name for f in fields(FitConfig)} | {"patience"})
"""Architecture parameters that go to the trainer (epochs, batch size, ...); the rest go to the builder."""


class Trainer(ABC):
    """One model's optimiser state across epochs; the core owns the epoch loop,
    early stopping and progress, so they behave the same on every runtime."""

    @abstractmethod
    def epoch(self, inputs: Arrays, targets: np.ndarray, weights: np.ndarray) -> float:
        """Train one pass over the data; return the mean training loss."""

    @abstractmethod
    def snapshot(self) -> Any:
        """A copy of the weights, to restore the best epoch."""

    @abstractmethod
    def restore(self, snapshot: Any) -> None: ...


class ModelRuntime(ABC):
    name: str

    @abstractmethod
    def seed(self, seed: int) -> None:
        """Seed the framework's random state, so weight initialisation and shuffling repeat."""

    @abstractmethod
    def build(self, architecture: Architecture, spec: ModelSpec, params: dict[str, Any]) -> Any: ...

    @abstractmethod
    def trainer(self, model: Any, spec: ModelSpec, config: FitConfig) -> Trainer: ...

    @abstractmethod
    def predict_logits(self, model: Any, inputs: Arrays) -> np.ndarray:
        """Raw outputs of the final layer for a batch, as a numpy array."""

    @abstractmethod
    def save(self, model: Any, directory: Path) -> None:
        """Write the model's files (safetensors or .keras) into ``directory``."""

    @abstractmethod
    def load(self, directory: Path, architecture: Architecture, spec: ModelSpec, params: dict[str, Any]) -> Any: ...

    def initialise(self, model: Any, path: Path) -> dict[str, Any]:
        """Start ``model`` from a local weights file (fine-tuning); return what was loaded."""
        from aiaas.errors import UserError

        raise UserError(f"the {self.name} runtime cannot start from a weights file; train without --weights")

    def device(self) -> str:
        return "cpu"


def build_with(architecture: Architecture, spec: ModelSpec, params: dict[str, Any]) -> Any:
    from aiaas.records import resolve

    builder: Callable[[ModelSpec, dict[str, Any]], Any] = resolve(architecture.builder)
    return builder(spec, {**architecture.params, **params})


def batches(n: int, size: int) -> list[slice]:
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]
