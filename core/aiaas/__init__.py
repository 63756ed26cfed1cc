"""aiaas: a host for industry-vertical AI models.

This module is the public API a plugin imports. It is light on purpose: importing
it never imports pandas, torch or tensorflow.
"""

from __future__ import annotations

import pluggy

hookimpl = pluggy.HookimplMarker("aiaas")

from aiaas.dataset import Dataset, LoadOptions, int_option  # noqa: E402
from aiaas.errors import InvalidInput, NoModel, UserError  # noqa: E402
from aiaas.records import (  # noqa: E402
    Architecture,
    DataAdapter,
    Explainer,
    InputCheck,
    Label,
    LabelSchema,
    OperatingPolicy,
    Postprocessor,
    Preprocessor,
    Quickstart,
    Runtime,
    SplitPolicy,
    Task,
    resolve,
)
from aiaas.runtimes.base import FitConfig, ModelSpec  # noqa: E402
from aiaas.state import State  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "Architecture",
    "DataAdapter",
    "Dataset",
    "Explainer",
    "InputCheck",
    "FitConfig",
    "InvalidInput",
    "Label",
    "LabelSchema",
    "LoadOptions",
    "ModelSpec",
    "NoModel",
    "OperatingPolicy",
    "Postprocessor",
    "Preprocessor",
    "Quickstart",
    "Runtime",
    "SplitPolicy",
    "State",
    "Task",
    "UserError",
    "hookimpl",
    "int_option",
    "resolve",
]
