"""TensorFlow and PyTorch in one process.

Triton (which torch's optimisers and compiler import) and TensorFlow each bring
their own LLVM; Triton loaded *after* TensorFlow crashes the process with a
segmentation fault. Loaded before, both work. So the TensorFlow runtime loads
Triton first when it can; when TensorFlow is already in the process (a caller
imported it), the torch runtime keeps Triton out: torch then runs without it,
losing only ``torch.compile``'s GPU kernels, which aiaas does not use.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ValueError:  # already blocked: sys.modules[name] is None
        return False


def before_tensorflow() -> None:
    if "tensorflow" not in sys.modules and "triton" not in sys.modules and _installed("triton"):
        importlib.import_module("triton")


def before_torch() -> None:
    if "tensorflow" in sys.modules and "triton" not in sys.modules:
        sys.modules["triton"] = None  # type: ignore[assignment]
