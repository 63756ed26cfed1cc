"""The general table preprocessor any tabular task can name as ``tabular``."""

from __future__ import annotations

from aiaas import hookimpl
from aiaas.records import Preprocessor


@hookimpl
def register_processors() -> list[Preprocessor]:
    return [
        Preprocessor(
            name="tabular",
            impl="aiaas.tabular:TabularPreprocessor",
            description="Infers numeric, skewed (log), boolean, categorical, date-time and identifier "
            "columns on the training split; the served schema is the trained one.",
        )
    ]
