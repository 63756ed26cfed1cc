"""PluginContract fails a plugin for what it promises to check: un-namespaced names, an adapter
that reads no sample, a preprocessor that loses rows or does not survive its saved state."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import aiaas
from aiaas.plugins import Host
from aiaas.testing import PluginContract


def write_table(out: Path, rows: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"x": x, "label": np.where(x + rng.normal(0, 0.5, rows) > 0, "high", "low")}).to_csv(out / "t.csv", index=False)
    return out / "t.csv"


class Lossy:
    """A preprocessor that drops the last record, and one whose state does not survive JSON (int keys become strings)."""

    def __init__(self, drops: bool) -> None:
        self.drops = drops

    def fit(self, records: pd.DataFrame, labels: pd.Series, options: dict) -> aiaas.State:
        return aiaas.State({"weights": {1: 2.0}})

    def transform(self, records: pd.DataFrame, state: aiaas.State) -> dict[str, np.ndarray]:
        x = records["x"].to_numpy(dtype="float32")[:, None]
        return {"x": x[:-1] if self.drops else x * state.meta["weights"].get(1, 1.0)}

    def input_model(self, state: aiaas.State, default: type) -> type:
        return default


def plugin(adapter: str = "acme.table", suffixes: tuple[str, ...] = (".csv",), preprocessor: str = "tabular") -> types.ModuleType:
    module = types.ModuleType("aiaas_acme")
    module.AIAAS_API = ">=1.1,<2"  # type: ignore[attr-defined]
    labels = aiaas.LabelSchema("acme.risk", "binary", (aiaas.Label("low"), aiaas.Label("high")), positive="high")
    task = aiaas.Task(name="acme/risk", modality="tabular", labels="acme.risk", input_model="aiaas:Classification",
                      output_model="aiaas:Classification", preprocessor=preprocessor, postprocessor="classification",
                      default_adapter=adapter, default_architecture="gbdt", metrics=("roc_auc",), sample=write_table)
    hooks = {
        "register_label_schemas": lambda: [labels],
        "register_tasks": lambda: [task],
        "register_data_adapters": lambda: [aiaas.DataAdapter(name=adapter, task="acme/risk", load="aiaas.tables:load_table", suffixes=suffixes)],
        "register_processors": lambda: [aiaas.Preprocessor(name="acme.drops", impl=Lossy(True)),
                                        aiaas.Preprocessor(name="acme.forgets", impl=Lossy(False))],
    }
    for name, fn in hooks.items():
        setattr(module, name, aiaas.hookimpl(fn))
    return module


class Acme(PluginContract):
    plugin = "acme"
    sample_rows = 200


def _checked(module: types.ModuleType, tmp_path: Path) -> tuple[Acme, Host, list[aiaas.Task], dict[str, Path]]:
    host = Host(entry_points=False)
    host.register_plugin("acme", module)
    assert host.plugins["acme"].status == "ok", host.plugins["acme"].reason
    tasks = [host.task("acme/risk")]
    return Acme(), host, tasks, {"acme/risk": write_table(tmp_path / "sample", 200)}


def _read(host: Host, samples: dict[str, Path]) -> dict[str, aiaas.Dataset]:
    from aiaas.loading import load_data

    return {name: load_data(host, name, path, None, None, {}) for name, path in samples.items()}


def test_a_well_formed_plugin_passes_the_checks(tmp_path: Path) -> None:
    contract, host, tasks, samples = _checked(plugin(), tmp_path)
    contract.test_record_names_are_namespaced_and_unique(host, tasks)
    contract.test_each_adapter_reads_the_sample_data(host, samples)
    contract.test_labels_match_the_label_schema(host, tasks, _read(host, samples))
    contract.test_processors_keep_the_batch_length_and_their_state_round_trips(host, tasks, _read(host, samples), tmp_path)


def test_a_name_outside_the_plugins_namespace_fails(tmp_path: Path) -> None:
    contract, host, tasks, _ = _checked(plugin(adapter="table"), tmp_path)
    with pytest.raises(AssertionError, match="DataAdapter 'table' is not namespaced"):
        contract.test_record_names_are_namespaced_and_unique(host, tasks)


def test_an_adapter_that_reads_no_sample_fails(tmp_path: Path) -> None:
    contract, host, _, samples = _checked(plugin(suffixes=(".xml",)), tmp_path)
    with pytest.raises(AssertionError, match="adapter acme.table reads none of the sample's format"):
        contract.test_each_adapter_reads_the_sample_data(host, samples)


@pytest.mark.parametrize(("preprocessor", "message"), [
    ("acme.drops", "preprocessor acme.drops turned 16 records into 15 rows"),
    ("acme.forgets", "preprocessor acme.forgets: 'x' differs after its state is saved and loaded"),
])
def test_a_preprocessor_that_loses_rows_or_state_fails(tmp_path: Path, preprocessor: str, message: str) -> None:
    contract, host, tasks, samples = _checked(plugin(preprocessor=preprocessor), tmp_path)
    with pytest.raises(AssertionError, match=message):
        contract.test_processors_keep_the_batch_length_and_their_state_round_trips(host, tasks, _read(host, samples), tmp_path)
