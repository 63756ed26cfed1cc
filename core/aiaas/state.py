"""Fitted state of a processor: JSON metadata plus named arrays (safetensors), never pickle."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


@dataclass
class State:
    meta: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def save(self, directory: Path, stem: str) -> None:
        from safetensors.numpy import save_file

        (directory / f"{stem}.json").write_text(json.dumps(json_safe(self.meta), indent=1, default=_jsonable, allow_nan=False))
        if self.arrays:
            save_file({k: v for k, v in self.arrays.items()}, str(directory / f"{stem}.safetensors"))

    @classmethod
    def load(cls, directory: Path, stem: str) -> State:
        from safetensors.numpy import load_file

        meta = json.loads((directory / f"{stem}.json").read_text())
        arrays_path = directory / f"{stem}.safetensors"
        arrays = load_file(str(arrays_path)) if arrays_path.exists() else {}
        return cls(meta, arrays)


def json_safe(value: Any) -> Any:
    """NaN and infinities become null, lone surrogates escapes: strict JSON (PostgreSQL's json type, browsers) has no NaN.
    A metric is NaN when, say, a test split holds a single class."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate cannot be written as UTF-8
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def _jsonable(value: Any) -> Any:
    """numpy scalars and arrays in metadata become plain JSON."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
