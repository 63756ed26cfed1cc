"""The plugin API as a product: what a plugin may import, the hook API version a plugin
declares, deprecations, and what ``aiaas plugins --json`` says about each plugin."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
import tomllib
import types
import warnings
from pathlib import Path

import pytest

import aiaas
from aiaas.deprecations import AiaasDeprecationWarning
from aiaas.plugins import Host

ROOT = Path(__file__).resolve().parents[1]


def _internal_modules() -> set[str]:
    """Every module of aiaas a plugin may not import: all but the surface (a kit's own
    submodules included: a plugin imports the kit, not its parts)."""
    found = set()
    for info in pkgutil.iter_modules(aiaas.__path__):
        name = f"aiaas.{info.name}"
        if name in aiaas.PLUGIN_SURFACE and info.ispkg:
            found |= {f"{name}.{sub.name}" for sub in pkgutil.iter_modules(importlib.import_module(name).__path__)}
        elif name not in aiaas.PLUGIN_SURFACE and info.name != "__main__":
            found.add(name)
    return found


def test_the_import_contract_keeps_every_plugin_to_the_surface() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract = next(c for c in config["contracts"] if c["name"].startswith("Plugins import only the plugin surface"))
    packages = {p.name for d in (ROOT / "plugins").iterdir() for p in d.glob("aiaas_*") if (p / "__init__.py").exists()}
    assert set(contract["source_modules"]) == packages
    assert set(contract["forbidden_modules"]) == _internal_modules()
    assert packages <= set(config["root_packages"])


def test_every_public_name_resolves_and_importing_aiaas_stays_light() -> None:
    code = ("import sys, aiaas; light = 'pandas' not in sys.modules; "
            "missing = [n for n in aiaas.__all__ if getattr(aiaas, n, None) is None]; print(light, missing)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True []"
    assert aiaas.Batch is importlib.import_module("aiaas.pipeline").Batch
    with pytest.raises(AttributeError, match="no attribute 'Bach'"):
        aiaas.Bach  # noqa: B018


def _plugin(api: str | None) -> types.ModuleType:
    module = types.ModuleType("versioned")
    if api is not None:
        module.AIAAS_API = api  # type: ignore[attr-defined]

    @aiaas.hookimpl
    def register_label_schemas() -> list[aiaas.LabelSchema]:
        return [aiaas.LabelSchema(name="versioned.labels", kind="multiclass", labels=(aiaas.Label("a"), aiaas.Label("b")))]

    module.register_label_schemas = register_label_schemas  # type: ignore[attr-defined]
    return module


def test_a_plugin_built_for_another_hook_api_is_refused_naming_both_versions() -> None:
    host = Host(entry_points=False)
    host.register_plugin("future", _plugin(">=2.0,<3"))
    info = host.plugins["future"]
    assert info.status == "failed"
    assert info.reason == f"built for hook API >=2.0,<3, but this aiaas provides hook API {aiaas.HOOK_API_VERSION}"
    assert "versioned.labels" not in host.components.label_schemas

    host.register_plugin("garbled", _plugin("one point one"))
    assert "AIAAS_API='one point one' is not a version range" in host.plugins["garbled"].reason


def test_a_plugin_in_range_loads_and_one_that_declares_nothing_loads_with_a_warning() -> None:
    host = Host(entry_points=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        host.register_plugin("current", _plugin(f">={aiaas.HOOK_API_VERSION},<2"))
    assert host.plugins["current"].status == "ok" and host.plugins["current"].api == f">={aiaas.HOOK_API_VERSION},<2"

    other = Host(entry_points=False)
    with pytest.warns(AiaasDeprecationWarning, match="plugin silent: a plugin that declares no AIAAS_API range is deprecated"):
        other.register_plugin("silent", _plugin(None))
    assert other.plugins["silent"].status == "ok" and other.plugins["silent"].api == ">=1.0,<2"


def test_a_name_that_moved_into_the_surface_still_works_and_warns() -> None:
    from aiaas import answers

    with pytest.warns(AiaasDeprecationWarning, match="aiaas.answers.calls is deprecated since hook API 1.1.*aiaas.classification_calls"):
        old = answers.calls
    assert old is aiaas.classification_calls


def test_plugins_json_reports_hooks_api_and_registrations() -> None:
    result = subprocess.run([sys.executable, "-m", "aiaas", "plugins", "--json"], capture_output=True, text=True, check=True)
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    finance = rows["finance"]
    assert finance["distribution"] == "aiaas-finance" and finance["version"] and finance["hook_api"] == ">=1.1,<2"
    assert {"register_tasks", "register_data_adapters", "register_routes"} <= set(finance["hooks"])
    assert "finance/fraud" in finance["registered"]["tasks"]
    assert "finance.transactions" in finance["registered"]["adapters"]
    assert "education/knowledge-tracing" in rows["education"]["registered"]["tasks"]
    assert any(a.startswith("education/knowledge-tracing/") for a in rows["education"]["registered"]["architectures"])
    assert rows["runtimes"]["hooks"] == ["register_runtimes"]
