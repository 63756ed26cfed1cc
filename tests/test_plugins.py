"""Plugin discovery: isolation of broken plugins, duplicates, disabling, light imports."""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import subprocess
import sys
import types

import pytest

import aiaas
from aiaas import hookspecs
from aiaas.plugins import Host
from aiaas.testing import host_with


def _module(name: str, **hooks: object) -> types.ModuleType:
    module = types.ModuleType(name)
    module.AIAAS_API = ">=1.1,<2"  # type: ignore[attr-defined]
    for hook_name, fn in hooks.items():
        setattr(module, hook_name, aiaas.hookimpl(fn))  # type: ignore[arg-type]
    return module


def _task(name: str = "insurance/claims", **overrides: object) -> aiaas.Task:
    fields = dict(
        name=name, modality="tabular", labels="finance.fraud", input_model="aiaas_finance.schemas:Transaction",
        output_model="aiaas_finance.schemas:FraudAssessment", preprocessor="tabular", postprocessor="finance.fraud-answer",
        default_adapter="finance.transactions", default_architecture="keras-mlp", metrics=("roc_auc",),
        sample="aiaas_finance.simulator:write_sample",
    )
    return aiaas.Task(**{**fields, **overrides})  # type: ignore[arg-type]


def test_installed_vertical_and_core_defaults_load() -> None:
    host = Host()
    assert host.plugins["finance"].status == "ok"
    assert host.plugins["finance"].distribution == "aiaas-finance"
    assert "finance/fraud" in host.components.tasks
    assert {"torch", "tensorflow"} <= set(host.components.runtimes)
    assert host.components.owner[("runtimes", "torch")] == "runtimes"  # the core's own default plugin


def test_plugin_that_fails_to_import_is_listed_and_host_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = importlib.metadata.EntryPoint(name="broken", value="aiaas_no_such_module_xyz", group="aiaas")
    real = importlib.metadata.entry_points(group="aiaas")
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [*real, broken])
    host = Host()
    assert host.plugins["broken"].status == "failed"
    assert "aiaas_no_such_module_xyz" in host.plugins["broken"].reason
    assert "finance/fraud" in host.components.tasks


def test_hook_that_raises_sets_plugin_aside_and_withdraws_its_records() -> None:
    def register_tasks() -> list[aiaas.Task]:
        return [_task()]

    def register_architectures() -> list[aiaas.Architecture]:
        raise RuntimeError("boom")

    host = Host()
    host.register_plugin("shaky", _module("shaky", register_tasks=register_tasks, register_architectures=register_architectures))
    info = host.plugins["shaky"]
    assert info.status == "failed" and "boom" in info.reason
    assert "insurance/claims" not in host.components.tasks
    assert host.plugins["finance"].status == "ok"


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ("not a record", "returned str"),
        (_task(name="no-slash"), "name must match"),
        (_task(metrics=()), "needs at least one metric"),
        (_task(input_model="not an import path"), "is not 'module:attribute'"),
        (_task(default_adapter="nowhere.adapter"), "unknown adapter 'nowhere.adapter'"),
        # caught at load, without importing the modules named: one line naming the record and the field
        (_task(metrics=("roc_acu",)), "metrics: 'roc_acu' is not a metric aiaas computes; did you mean 'roc_auc'?"),
        (_task(input_model="aiaas_finance.schemas:Transacton"),
         "input_model='aiaas_finance.schemas:Transacton': module aiaas_finance.schemas has no 'Transacton'; did you mean 'Transaction'?"),
        (_task(sample="aiaas_finance.simulatr:write_sample"), "sample='aiaas_finance.simulatr:write_sample': no module named 'aiaas_finance.simulatr'"),
        (aiaas.Architecture(name="wide", task="finance/fraud", runtime="torch", builder="aiaas.models.mlp_torch:build",
                            params={"learning_rte": 0.01}), "params: 'learning_rte' is not a trainer parameter; did you mean 'learning_rate'?"),
    ],
)
def test_invalid_records_are_refused_with_the_reason(record: object, reason: str) -> None:
    host = Host()
    hook = "register_architectures" if isinstance(record, aiaas.Architecture) else "register_tasks"
    host.register_plugin("bad", _module("bad", **{hook: lambda: [record]}))
    assert host.plugins["bad"].status == "failed"
    assert reason in host.plugins["bad"].reason


def test_hook_mistakes_set_the_plugin_aside_with_one_line() -> None:
    def register_tasks() -> list[aiaas.Task]:
        return []

    unmarked = types.ModuleType("unmarked")
    unmarked.AIAAS_API = ">=1.1,<2"  # type: ignore[attr-defined]
    unmarked.register_tasks = register_tasks  # type: ignore[attr-defined]  # no @aiaas.hookimpl
    misspelled = _module("misspelled", register_task=lambda: [])  # (marking a function marks it everywhere: a new one)
    host = Host()
    host.register_plugin("unmarked", unmarked)
    host.register_plugin("misspelled", misspelled)
    assert host.plugins["unmarked"].reason == "register_tasks is not marked @aiaas.hookimpl, so aiaas never calls it"
    assert host.plugins["misspelled"].reason == ("register_task is marked @aiaas.hookimpl but no hook has that name; "
                                                 "did you mean 'register_tasks'?")
    assert host.plugins["finance"].status == "ok" and "finance/fraud" in host.components.tasks  # the host goes on


def test_the_load_checks_know_every_metric_and_trainer_parameter() -> None:
    from aiaas.metrics import METRICS
    from aiaas.records import METRIC_NAMES
    from aiaas.runtimes.base import FIT_PARAMS, FitConfig
    from aiaas.training import FIT_KEYS

    assert METRIC_NAMES == set(METRICS)
    assert FIT_KEYS == FIT_PARAMS == {*FitConfig.__dataclass_fields__, "patience"}


def test_duplicate_names_fail_naming_both_plugins() -> None:
    def register_label_schemas() -> list[aiaas.LabelSchema]:
        return [aiaas.LabelSchema("finance.fraud", "binary", (aiaas.Label("a"), aiaas.Label("b")), positive="b")]

    host = Host()
    host.register_plugin("copycat", _module("copycat", register_label_schemas=register_label_schemas))
    reason = host.plugins["copycat"].reason
    assert host.plugins["copycat"].status == "failed"
    assert "'finance'" in reason and "'copycat'" in reason and "finance.fraud" in reason
    assert host.components.owner[("label_schemas", "finance.fraud")] == "finance"


def test_third_party_plugin_can_add_an_architecture_to_another_plugins_task() -> None:
    extra = aiaas.Architecture(name="wide-mlp", task="finance/fraud", runtime="torch",
                               builder="aiaas.models.mlp_torch:build", params={"hidden": [256]})
    host = host_with("wide", _module("wide", register_architectures=lambda: [extra]), entry_points=True)
    task = host.task("finance/fraud")
    assert host.architecture(task, "wide-mlp").params == {"hidden": [256]}
    assert host.components.owner[("architectures", ("finance/fraud", "torch", "wide-mlp"))] == "wide"


def test_disabled_plugins_are_skipped_before_import() -> None:
    code = (
        "import sys; from aiaas.plugins import get_host; h = get_host(); "
        "print(h.plugins['finance'].status, 'aiaas_finance.plugin' in sys.modules, 'finance/fraud' in h.components.tasks)"
    )
    env = {"AIAAS_DISABLE_PLUGINS": "other,finance", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout.split()
    assert out == ["disabled", "False", "False"]


def test_discovery_imports_no_heavy_framework() -> None:
    code = (
        "import sys; from aiaas.plugins import get_host; import aiaas.cli; h = get_host(); "
        "assert h.plugins['finance'].status == 'ok'; "
        "print(sorted(m for m in ('torch', 'tensorflow', 'keras', 'pandas', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_cli_plugins_lists_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = importlib.metadata.EntryPoint(name="broken", value="aiaas_no_such_module_xyz", group="aiaas")
    env = {**__import__("os").environ}
    code = (
        "import importlib.metadata as m, sys; real = m.entry_points(group='aiaas'); "
        f"m.entry_points = lambda group: [*real, m.EntryPoint(name={broken.name!r}, value={broken.value!r}, group='aiaas')]; "
        "sys.argv = ['aiaas', 'plugins', '--json']; from aiaas.cli import main; main()"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["broken"]["status"] == "failed" and "ModuleNotFoundError" in rows["broken"]["reason"]
    assert rows["finance"]["status"] == "ok"


def test_every_hookspec_is_typed_and_documented_with_an_example() -> None:
    specs = [fn for name, fn in vars(hookspecs).items() if name.startswith("register_") and callable(fn)]
    assert len(specs) >= 9
    for fn in specs:
        assert "Example::" in (fn.__doc__ or ""), fn.__name__
        assert inspect.signature(fn).return_annotation != inspect.Signature.empty, fn.__name__


def test_plugins_add_cli_commands_and_http_routes(tmp_path) -> None:
    import typer
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from aiaas.registry import Registry
    from aiaas.serving.app import create_app
    from aiaas.settings import Settings

    def register_commands(cli: typer.Typer) -> None:
        @cli.command(name="hello")
        def hello() -> None:
            print("hello from a plugin")

    def register_routes(router, host) -> None:  # noqa: ANN001
        @router.get("/v1/hello")
        def hello() -> dict[str, int]:
            return {"tasks": len(host.components.tasks)}

    def broken_routes(router) -> None:  # noqa: ANN001
        raise RuntimeError("no routes today")

    host = host_with("greeter", _module("greeter", register_commands=register_commands, register_routes=register_routes), entry_points=True)
    host.register_plugin("grumpy", _module("grumpy", register_routes=broken_routes))
    cli = typer.Typer()
    cli.callback()(lambda: None)
    host.call_extension_hook("register_commands", cli=cli)
    assert CliRunner().invoke(cli, ["hello"]).output == "hello from a plugin\n"

    app = create_app(host, Registry(f"sqlite:///{tmp_path / 'r.db'}", tmp_path), Settings(home=tmp_path))
    assert TestClient(app).get("/v1/hello").json() == {"tasks": len(host.components.tasks)} != {"tasks": 0}
    assert host.plugins["grumpy"].status == "failed" and "no routes today" in host.plugins["grumpy"].reason


def test_registry_follows_the_database_url_setting(tmp_path) -> None:
    from aiaas.registry import Registry
    from aiaas.testing import isolated_home

    url = f"sqlite:///{tmp_path / 'elsewhere' / 'models.db'}"
    with isolated_home(tmp_path / "home", database_url=url):
        registry = Registry.from_settings()
        assert str(registry.engine.url) == url
        assert (tmp_path / "elsewhere" / "models.db").exists()
        assert registry.artifacts == tmp_path / "home" / "artifacts"


def test_a_task_whose_code_fails_to_load_answers_503_and_the_others_serve(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """The module exists and names the model (the load checks pass), but importing it fails."""
    from fastapi.testclient import TestClient

    from aiaas.registry import Registry
    from aiaas.serving.app import create_app
    from aiaas.settings import get_settings
    from aiaas.testing import isolated_home

    from .test_model_quality import lending_plugin
    from .test_third_party_plugin import insurance_plugin

    (tmp_path / "claims_schema_that_breaks.py").write_text("raise RuntimeError('a dependency is missing')\n\nclass Claim:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    broken = insurance_plugin()
    (task,) = broken.register_tasks()
    broken.register_tasks = aiaas.hookimpl(lambda: [aiaas.Task(**{**task.__dict__, "input_model": "claims_schema_that_breaks:Claim"})])
    with isolated_home(tmp_path / "home"):
        host = host_with("insurance", broken)
        host.register_plugin("lending", lending_plugin())
        assert host.plugins["insurance"].status == "ok" and host.plugins["lending"].status == "ok"
        client = TestClient(create_app(host, Registry.from_settings(), get_settings()))
        refused = client.post("/v1/insurance/claims/predict", json={"instances": [{"amount": 1.0}]})
        assert refused.status_code == 503 and "a dependency is missing" in refused.json()["detail"]
        assert client.post("/v1/lending/default/predict", json={"instances": [{"income": 1.0}]}).json()["detail"].startswith("lending/default has no")
        listed = {t["task"]: t for t in client.get("/v1/tasks").json()}
        assert "a dependency is missing" in listed["insurance/claims"]["error"] and "input_schema" in listed["lending/default"]
        assert client.get("/openapi.json").status_code == 200
