"""The plugin contract.

A plugin is a module with functions decorated ``@aiaas.hookimpl`` whose names match
the specs below, registered under the entry-point group ``aiaas``::

    [project.entry-points.aiaas]
    finance = "aiaas_finance.plugin"

A plugin module also says which versions of this contract it was built for::

    AIAAS_API = ">=1.1,<2"

Registration hooks return records (see ``aiaas.records``); the host validates them
and remembers which plugin gave each. Per-request work runs through the records'
objects, never through a hook call per request.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter

    from aiaas.plugins import Host
    from aiaas.serving.service import Service
    from aiaas.records import (
        Architecture,
        DataAdapter,
        Explainer,
        InputCheck,
        LabelSchema,
        Postprocessor,
        Preprocessor,
        Runtime,
        Task,
    )

hookspec = pluggy.HookspecMarker("aiaas")

HOOK_API_VERSION = "1.1"
"""The version of this contract: the hooks, the records' fields and ``aiaas.PLUGIN_SURFACE``.
A plugin declares the versions it supports in its plugin module (``AIAAS_API = ">=1.1,<2"``)
and is refused at load when this one is outside them. The minor version grows when
something is added; the major when something is removed or changes meaning (after a
deprecation in ``aiaas.deprecations``). 1.1 added ``PLUGIN_SURFACE`` and its lazy names.
"""


# -- what a plugin serves ---------------------------------------------------------


@hookspec
def register_tasks() -> Iterable[Task]:
    """Tasks this plugin serves.

    Example::

        @aiaas.hookimpl
        def register_tasks():
            return [aiaas.Task(name="finance/fraud", modality="tabular", labels="finance.fraud",
                               input_model="aiaas_finance.schemas:Transaction", ...)]

    An image task takes uploads by naming ``upload_field="image"`` and a ``decode``
    that turns an instance into pixels (``"aiaas.vision:decode_instance"``).
    """


@hookspec
def register_label_schemas() -> Iterable[LabelSchema]:
    """Label schemas tasks refer to by name.

    Example::

        @aiaas.hookimpl
        def register_label_schemas():
            return [aiaas.LabelSchema(name="finance.fraud", kind="binary", positive="fraud",
                                      labels=(aiaas.Label("legit"), aiaas.Label("fraud")))]
    """


# -- how data comes in and answers go out -----------------------------------------


@hookspec
def register_data_adapters() -> Iterable[DataAdapter]:
    """Readers from a source (a CSV, a folder of images, ...) to a task's records.

    Example::

        @aiaas.hookimpl
        def register_data_adapters():
            return [aiaas.DataAdapter(name="finance.transactions", task="finance/fraud",
                                      suffixes=(".csv", ".parquet"),
                                      load="aiaas_finance.adapters:load_transactions")]
    """


@hookspec
def register_processors() -> Iterable[Preprocessor | Postprocessor]:
    """Preprocessors (records -> model inputs, fitted on the training split) and
    postprocessors (model outputs -> the domain's answer).

    Example::

        @aiaas.hookimpl
        def register_processors():
            return [aiaas.Postprocessor(name="finance.fraud-answer",
                                        impl="aiaas_finance.answer:FraudAnswer")]
    """


# -- models -------------------------------------------------------------------------


@hookspec
def register_architectures() -> Iterable[Architecture]:
    """Model builders, one record per (task, runtime, name).

    Example::

        @aiaas.hookimpl
        def register_architectures():
            return [aiaas.Architecture(name="wide-mlp", task="finance/fraud", runtime="torch",
                                       builder="aiaas.models.mlp_torch:build",
                                       params={"hidden": (64, 32), "dropout": 0.2})]

    A model that needs its own inputs names its own preprocessor, which then replaces
    the task's (``preprocessor="retail.minilm-tokens"`` for a pretrained encoder).
    ``task="*"`` with a ``modality`` offers one to every task of that modality (the core's
    ``gbdt`` for every table); ``floor=True`` marks the classical floor every report
    compares with. On the ``classical`` runtime the builder returns an
    ``aiaas.classical.Estimator``, fitted once on the whole training split.
    """


@hookspec
def register_explainers() -> Iterable[Explainer]:
    """Explanation methods for a modality (optionally only some runtimes).

    Example::

        @aiaas.hookimpl
        def register_explainers():
            return [aiaas.Explainer(name="feature-ablation", modality="tabular",
                                    impl="aiaas.explainers.ablation:FeatureAblation")]
    """


@hookspec
def register_input_checks() -> Iterable[InputCheck]:
    """Detectors of inputs unlike the training data, for one task or a whole modality.
    The core offers general ones (ranges, vocabulary, language, feature distances);
    a vertical adds what only its domain knows.

    Example::

        @aiaas.hookimpl
        def register_input_checks():
            return [aiaas.InputCheck(name="healthcare.dicom-modality", task="healthcare/chest-xray",
                                     impl="aiaas_healthcare.checks:RadiographOnly")]

    A task that must not answer what a check flags names it in ``Task.refuse_unfamiliar``.
    """


@hookspec
def register_runtimes() -> Iterable[Runtime]:
    """Model runtimes. The core's torch and tensorflow runtimes come through here too.

    Example::

        @aiaas.hookimpl
        def register_runtimes():
            return [aiaas.Runtime(name="torch", impl="aiaas.runtimes.torch:TorchRuntime",
                                  requires=("torch",))]
    """


# -- extending the service and the CLI ----------------------------------------------


@hookspec
def register_routes(router: APIRouter, host: Host, service: Service) -> None:
    """Add HTTP routes a vertical needs beyond predict and explain. ``service`` reaches
    the registry's database (``service.registry.engine``) and answers through the
    production model (``await service.predict(task, rows)``); take only the arguments you use.

    Example::

        @aiaas.hookimpl
        def register_routes(router, host):
            @router.get("/v1/finance/reason-codes")
            def reason_codes() -> dict[str, str]:
                return REASONS
    """


@hookspec
def register_commands(cli: typer.Typer) -> None:
    """Add CLI commands.

    Example::

        @aiaas.hookimpl
        def register_commands(cli):
            @cli.command(name="finance-reasons")
            def reasons() -> None:
                print(REASONS)
    """
