"""Model quality on any table: the core's candidates for a task with no model code,
``--arch auto`` and its leaderboard, the classical floor, data checks before training
and calibration of every label kind."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import BaseModel

import aiaas
from aiaas.calibration import activate, calibrated, fit_temperature
from aiaas.errors import InvalidInput
from aiaas.metrics import METRICS
from aiaas.pipeline import Pipeline
from aiaas.registry import Registry
from aiaas.tables import delimiter
from aiaas.testing import host_with, ready_client
from aiaas.training import TrainRequest, train

from .test_third_party_plugin import insurance_plugin, write_claims


class Application(BaseModel):
    """The lender's form; a table with other columns is served with the schema of its own columns."""

    applicant: str


def lending_plugin() -> types.ModuleType:
    """A third-party tabular task with no architecture of its own: the core's serve it."""
    module = types.ModuleType("aiaas_lending")
    module.AIAAS_API = ">=1.1,<2"  # type: ignore[attr-defined]
    schema = aiaas.LabelSchema("lending.default", "binary", (aiaas.Label("repaid"), aiaas.Label("default")), positive="default")
    task = aiaas.Task(
        name="lending/default", modality="tabular", labels="lending.default", input_model=Application,
        output_model="aiaas:Classification", preprocessor="tabular", postprocessor="classification",
        default_adapter="lending.table", default_architecture="auto", explainer="feature-ablation",
        metrics=("roc_auc", "average_precision"), sample="aiaas.tables:load_table", label_column="defaulted",
    )
    module.register_label_schemas = aiaas.hookimpl(lambda: [schema])
    module.register_tasks = aiaas.hookimpl(lambda: [task])
    module.register_data_adapters = aiaas.hookimpl(lambda: [aiaas.DataAdapter(
        name="lending.table", task="lending/default", load="aiaas.tables:load_table", suffixes=(".csv",))])
    return module


def loans(rows: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10, 0.5, rows)
    debt = rng.uniform(0, 1, rows)
    grade = rng.choice(["A", "B", "C", "D"], rows)
    risk = 3 * debt - np.log(income) / 3 + (grade == "D") * 1.2 + rng.normal(0, 0.6, rows)
    return pd.DataFrame({"income": income.round(2), "debt_ratio": debt.round(3), "grade": grade,
                         "defaulted": (risk > np.quantile(risk, 0.7)).astype(int)})


@pytest.fixture
def lending(aiaas_home: Path) -> tuple[aiaas.plugins.Host, Registry]:  # type: ignore[name-defined]
    return host_with("lending", lending_plugin()), Registry.from_settings()


def _train(host, registry, path: Path, **kw) -> object:  # noqa: ANN001
    return train(host, registry, TrainRequest("lending/default", path, **kw), quiet=True)


# -- data checks ------------------------------------------------------------------


def test_a_saved_index_and_columns_that_carry_nothing_are_left_out(lending, tmp_path: Path) -> None:
    host, registry = lending
    frame = loans().sort_values("defaulted", kind="stable").reset_index(drop=True)  # the index alone would separate the classes
    frame["id"] = [f"loan-{i:05d}" for i in np.random.default_rng(1).permutation(len(frame))]
    frame["branch"] = "main"
    frame["note"] = np.nan
    path = tmp_path / "loans.csv"
    frame.to_csv(path)  # pandas writes the index under an empty header: "Unnamed: 0" when read back
    result = _train(host, registry, path, architecture="gbdt", promote=True, force=True)
    assert any("'Unnamed: 0'" in n and "saved index" in n for n in result.notes), result.notes
    assert any("'id'" in n and "identifier" in n for n in result.notes)
    assert any("'branch'" in n and "one value" in n for n in result.notes)
    assert any("'note'" in n and "missing" in n for n in result.notes)
    assert result.metrics["roc_auc"] < 0.98  # not inflated by the index
    client = ready_client(host, registry)
    schema = {t["task"]: t for t in client.get("/v1/tasks").json()}["lending/default"]["input_schema"]
    assert set(schema["properties"]) == {"income", "debt_ratio", "grade"}
    report = result.report.read_text()
    assert "<h2>Data</h2>" in report and "Unnamed: 0" in report and "saved index" in report


def test_a_column_that_leaks_the_label_stops_training_unless_kept(lending, tmp_path: Path) -> None:
    host, registry = lending
    frame = loans()
    frame["collections_flag"] = frame["defaulted"].map({0: "no", 1: "yes"})  # known only after the outcome
    path = tmp_path / "loans.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InvalidInput, match="column 'collections_flag' alone predicts the label almost perfectly"):
        _train(host, registry, path, architecture="gbdt")
    kept = _train(host, registry, path, architecture="gbdt", keep_columns=("collections_flag",))
    assert kept.metrics["roc_auc"] > 0.99
    dropped = _train(host, registry, path, architecture="gbdt", drop_columns=("collections_flag",))
    assert any("'collections_flag'" in n and "--drop-columns" in n for n in dropped.notes)
    with pytest.raises(InvalidInput, match="no column 'nope'"):
        _train(host, registry, path, architecture="gbdt", drop_columns=("nope",))


def test_the_cli_names_a_leaking_column_in_one_line(tmp_path: Path) -> None:
    frame = pd.read_csv(write_claims(tmp_path, 300, 0))
    frame["is_fraud"] = (frame.pop("outcome") == "deny").astype(int)
    frame["decision_letter"] = frame["is_fraud"].map({0: "approved", 1: "declined"})
    path = tmp_path / "claims_leak.csv"
    frame.to_csv(path, index=False)
    env = {"AIAAS_HOME": str(tmp_path / "home"), "PATH": str(Path(sys.executable).parent)}
    run = subprocess.run([sys.executable, "-m", "aiaas", "train", "finance/fraud", "--data", str(path), "--arch", "gbdt"], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr and "column 'decision_letter' alone predicts the label" in run.stderr


def test_delimiters_are_detected(tmp_path: Path) -> None:
    for sep in (",", ";", "\t", "|"):
        path = tmp_path / "t.csv"
        path.write_text(f'"amount{"," if sep != "," else ""} eur"{sep}region{sep}label\n1{sep}north{sep}0\n')
        assert delimiter(path) == sep


def test_a_semicolon_separated_file_trains(lending, tmp_path: Path) -> None:
    host, registry = lending
    path = tmp_path / "loans.csv"
    loans().to_csv(path, sep=";", index=False)
    result = _train(host, registry, path, architecture="gbdt")
    assert result.metrics["roc_auc"] > 0.75


# -- candidates, auto, floor --------------------------------------------------------


@pytest.mark.slow
def test_auto_trains_every_candidate_and_registers_the_best_on_validation(lending, tmp_path: Path) -> None:
    host, registry = lending
    path = tmp_path / "loans.csv"
    loans().to_csv(path, index=False)
    result = _train(host, registry, path, epochs=2)  # the task's default is auto
    board = {r["candidate"]: r for r in result.leaderboard}
    assert set(board) == {"gbdt (classical)", "logistic (classical)", "mlp (torch)", "mlp (tensorflow)"}
    best = max(board.values(), key=lambda r: r["validation"])
    assert best["candidate"] == f"{result.version.architecture} ({result.version.runtime})"
    assert all(r["bytes"] > 0 and r["ms_per_row"] > 0 and r["seconds"] > 0 for r in board.values())
    assert result.floor["floor_architecture"] == "gbdt (classical)"
    report = result.report.read_text()
    assert "Leaderboard" in report and "(chosen)" in report and "classical floor" in report


def test_a_budget_stops_further_candidates(lending, tmp_path: Path) -> None:
    host, registry = lending
    path = tmp_path / "loans.csv"
    loans().to_csv(path, index=False)
    result = _train(host, registry, path, budget=1e-6)
    assert [r["candidate"] for r in result.leaderboard] == ["gbdt (classical)"]
    manifest = json.loads((registry.folder(result.version) / "manifest.json").read_text())
    assert manifest["skipped"] == ["logistic (classical)", "mlp (torch)", "mlp (tensorflow)"]


def test_gradient_boosted_trees_save_no_pickle_and_explain_exactly(lending, tmp_path: Path) -> None:
    host, registry = lending
    path = tmp_path / "loans.csv"
    loans().to_csv(path, index=False)
    result = _train(host, registry, path, architecture="gbdt", promote=True, force=True)
    folder = registry.folder(result.version)
    assert (folder / "model.txt").read_text().startswith("tree")
    assert not [f for f in folder.rglob("*") if f.suffix in (".pkl", ".pickle", ".joblib", ".pt")]
    pipeline = Pipeline.load(host, folder)
    records = loans(5, seed=9).drop(columns=["defaulted"])
    p = pipeline.probabilities(records)
    explained = pipeline.explain(records, p)
    assert explained[0]["method"] == "tree-shap" and explained[0]["label"] == "default"  # the positive label it explains
    inputs = pipeline.preprocessor.transform(records, pipeline.pre_state)
    contributions, bias = pipeline.model.contributions(inputs)
    assert np.allclose(contributions.sum(-1) + bias, pipeline.runtime.predict_logits(pipeline.model, inputs), atol=1e-4)
    base = calibrated(bias, "binary", pipeline.manifest["calibration"])
    for i, e in enumerate(explained):  # the columns' shares add up to the probability's change from the trees' base value
        assert sum(a["contribution"] for a in e["attributions"]) == pytest.approx(p[i] - base[i], abs=1e-5)
        assert {a["feature"] for a in e["attributions"]} == {"income", "debt_ratio", "grade"}


# -- calibration ------------------------------------------------------------------


def test_temperature_scaling_undoes_overconfidence() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 1.5, (4000, 3))
    y = np.array([rng.choice(3, p=row) for row in activate(logits, "multiclass")])
    fitted = fit_temperature(logits * 3, y)  # a model three times too sure of itself
    assert fitted["temperature"] == pytest.approx(3, rel=0.1)
    ece = METRICS["calibration_error"]
    assert ece(y, calibrated(logits * 3, "multiclass", fitted), 0.5) < ece(y, activate(logits * 3, "multiclass"), 0.5) / 2


def test_a_multiclass_model_is_temperature_scaled_and_the_report_shows_the_error_before_and_after(aiaas_home: Path, tmp_path: Path) -> None:
    host = host_with("insurance", insurance_plugin())
    registry = Registry.from_settings()
    result = train(host, registry, TrainRequest("insurance/claims", write_claims(tmp_path, 500, 0), architecture="mlp", epochs=3), quiet=True)
    manifest = json.loads((registry.folder(result.version) / "manifest.json").read_text())
    assert manifest["calibration"]["temperature"] > 0 and manifest["calibration_check"]["kept"]  # it lowers the out-of-fold error
    assert set(manifest["calibration_error"]) == {"before", "after"}
    assert "temperature scaling" in result.report.read_text() and "before" in result.report.read_text()


def test_each_label_of_a_multilabel_model_gets_its_own_platt_scaling() -> None:
    from aiaas.calibration import fit_calibration

    rng = np.random.default_rng(1)
    true = rng.normal(0, 1, (3000, 2))
    y = (rng.uniform(size=true.shape) < activate(true, "multilabel")).astype(int)
    raw = np.stack([true[:, 0] * 4, true[:, 1] - 2], axis=1)  # one label too sure, the other biased low
    fitted = fit_calibration("multilabel", raw, y)
    assert fitted["labels"][0]["a"] == pytest.approx(0.25, rel=0.2) and fitted["labels"][1]["b"] == pytest.approx(2, rel=0.2)
    p = calibrated(raw, "multilabel", fitted)
    for j in range(2):
        ece = METRICS["calibration_error"]
        assert ece(y[:, j], p[:, j], 0.5) < ece(y[:, j], activate(raw, "multilabel")[:, j], 0.5)


def _needs_a_package(spec: aiaas.ModelSpec, params: dict) -> object:
    raise aiaas.UserError("the wide-trees architecture needs its package: pip install wide-trees")


def test_auto_goes_on_without_a_candidate_that_cannot_run_here(aiaas_home: Path, tmp_path: Path) -> None:
    module = lending_plugin()
    module.register_architectures = aiaas.hookimpl(lambda: [aiaas.Architecture(
        name="wide-trees", task="lending/default", runtime="classical", builder=_needs_a_package)])
    host, registry = host_with("lending", module), Registry.from_settings()
    path = tmp_path / "loans.csv"
    loans().to_csv(path, index=False)
    result = _train(host, registry, path, runtime="classical")
    assert [r["candidate"] for r in result.leaderboard] == ["gbdt (classical)", "logistic (classical)"]
    manifest = json.loads((registry.folder(result.version) / "manifest.json").read_text())
    assert manifest["skipped"] == ["wide-trees (classical): the wide-trees architecture needs its package: pip install wide-trees"]
    with pytest.raises(aiaas.UserError, match="needs its package"):
        _train(host, registry, path, architecture="wide-trees")
