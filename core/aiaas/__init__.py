"""aiaas: a host for industry-vertical AI models.

This module is the public API a plugin imports. It is light on purpose: importing
it never imports pandas, torch or tensorflow. The names a plugin's code needs at
request or training time (``Batch``, ``Pipeline``, ``Sample``, ...) are loaded on
first use.

What a plugin may import is this module and the kits: ``aiaas.tables``, ``aiaas.text``,
``aiaas.vision``, ``aiaas.sequences``, ``aiaas.classical`` and ``aiaas.testing``
(``PLUGIN_SURFACE``). Everything else is the host's own and may change without notice;
an import-linter contract keeps the plugins in this repository to the surface.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

hookimpl = pluggy.HookimplMarker("aiaas")

from aiaas.dataset import Dataset, LoadOptions, int_option  # noqa: E402
from aiaas.errors import InvalidInput, NoModel, UnsupportedMedia, UserError  # noqa: E402
from aiaas.hookspecs import HOOK_API_VERSION  # noqa: E402
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

if TYPE_CHECKING:
    from aiaas.answers import Classification, ExplainedClassification, classification_calls
    from aiaas.fields import Number, Whole
    from aiaas.novelty.base import Sample, Scores
    from aiaas.pipeline import Batch, Pipeline
    from aiaas.reports import figure_png
    from aiaas.secrets import keyed_digest
    from aiaas.serving.limits import strict_json_body
    from aiaas.training import TrainRequest

__version__ = "0.1.0"

PLUGIN_SURFACE = ("aiaas", "aiaas.tables", "aiaas.text", "aiaas.vision", "aiaas.sequences", "aiaas.classical", "aiaas.testing")
"""The modules a plugin may import; the rest of ``aiaas`` is the host's own."""

_LAZY = {
    "Batch": "aiaas.pipeline",  # what a postprocessor answers from: records, probabilities, explanations
    "Pipeline": "aiaas.pipeline",  # a trained version: labels, threshold, preprocessor state, model
    "Sample": "aiaas.novelty.base",  # what an input check scores
    "Scores": "aiaas.novelty.base",
    "Classification": "aiaas.answers",  # the ready-made classification answer, for output_model
    "ExplainedClassification": "aiaas.answers",
    "classification_calls": "aiaas.answers",
    "TrainRequest": "aiaas.training",
    "Number": "aiaas.fields",  # input-model field types that take what their JSON Schema says
    "Whole": "aiaas.fields",
    "figure_png": "aiaas.reports",  # a Task.report's figures
    "keyed_digest": "aiaas.secrets",  # pseudonymous ids under the host's secret key
    "strict_json_body": "aiaas.serving.limits",  # a plugin route's body checks, the same as the task routes'
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        from aiaas.deprecations import moved

        return moved(__name__, name)
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "HOOK_API_VERSION",
    "PLUGIN_SURFACE",
    "Architecture",
    "Batch",
    "Classification",
    "DataAdapter",
    "Dataset",
    "ExplainedClassification",
    "Explainer",
    "FitConfig",
    "InputCheck",
    "InvalidInput",
    "Label",
    "LabelSchema",
    "LoadOptions",
    "ModelSpec",
    "NoModel",
    "Number",
    "OperatingPolicy",
    "Pipeline",
    "Postprocessor",
    "Preprocessor",
    "Quickstart",
    "Runtime",
    "Sample",
    "Scores",
    "SplitPolicy",
    "State",
    "Task",
    "TrainRequest",
    "UnsupportedMedia",
    "UserError",
    "Whole",
    "classification_calls",
    "figure_png",
    "hookimpl",
    "int_option",
    "keyed_digest",
    "resolve",
    "strict_json_body",
]
