"""What a careful data scientist checks before shipping a model trained on a team's own
data: columns that will not look the same in production, base rates, evaluation that
cannot fool its reader, verdicts with intervals, and labels that do not match."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import aiaas
from aiaas.datachecks import screen_columns
from aiaas.registry import Registry
from aiaas.testing import host_with, ready_client

from .test_model_quality import _train, lending_plugin, loans


@pytest.fixture
def lending(aiaas_home: Path) -> tuple[aiaas.plugins.Host, Registry]:  # type: ignore[name-defined]
    return host_with("lending", lending_plugin()), Registry.from_settings()


def _with_counters(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """The rows in the order they happened, with a seconds-since-start counter and an auto-increment number with gaps."""
    rng = np.random.default_rng(seed)
    frame = frame.copy()
    frame.insert(0, "Time", np.cumsum(rng.exponential(40.0, len(frame))).round(1))
    frame.insert(1, "application_no", 10_000 + np.cumsum(rng.integers(1, 4, len(frame))))
    return frame


def test_columns_that_rise_with_the_data_order_are_left_out_unless_kept(lending, tmp_path: Path) -> None:
    host, registry = lending
    path = tmp_path / "loans.csv"
    _with_counters(loans()).to_csv(path, index=False)
    result = _train(host, registry, path, architecture="gbdt", promote=True)
    for name in ("Time", "application_no"):
        assert any(f"'{name}'" in n and "rises with the rows' order" in n and "outside every value training saw" in n for n in result.notes), result.notes
    schema = {t["task"]: t for t in ready_client(host, registry).get("/v1/tasks").json()}["lending/default"]["input_schema"]
    assert set(schema["properties"]) == {"income", "debt_ratio", "grade"}
    kept = _train(host, registry, path, architecture="gbdt", keep_columns=("Time",))
    assert not any("'Time'" in n and "rises" in n for n in kept.notes) and any("'application_no'" in n and "rises" in n for n in kept.notes)


def test_a_shuffled_table_keeps_its_numbers_and_the_time_split_column_is_never_a_raw_feature() -> None:
    frame = _with_counters(loans(300))
    assert screen_columns(frame.sample(frac=1.0, random_state=0)).ignored == {}  # no order to rise with
    screen = screen_columns(frame.sample(frac=1.0, random_state=0), time_column="Time")
    assert "orders the time split" in screen.ignored["Time"]
    assert "rises with the time column 'Time'" in screen.ignored["application_no"]
    assert set(screen.ignored) == {"Time", "application_no"}  # income, debt and grade do not rise with time
    stamped = frame.assign(Time=pd.Timestamp("2026-01-01") + pd.to_timedelta(frame["Time"], unit="s"))
    assert "Time" not in screen_columns(stamped, time_column="Time").ignored  # a datetime is used by its hour and weekday


# -- verdicts with intervals ------------------------------------------------------


def _scores(rows: int, signal: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, rows)
    return y, 1 / (1 + np.exp(-(signal * (2 * y - 1) + rng.normal(0, 1, rows))))


def test_the_floor_verdict_is_a_paired_comparison_with_an_interval() -> None:
    from aiaas.intervals import paired
    from aiaas.selection import compare_with_floor

    y, floor = _scores(400, 1.0, 0)
    rng = np.random.default_rng(1)
    noise = np.clip(floor + rng.normal(0, 0.01, len(y)), 0, 1)  # the floor's scores, jittered: no better, no worse
    better = np.clip(floor + 0.5 * (y - 0.5) * rng.random(len(y)), 0, 1)
    worse = np.clip(floor - 0.5 * (y - 0.5) * rng.random(len(y)), 0, 1)
    verdicts = {}
    for name, p in {"noise": noise, "better": better, "worse": worse}.items():
        difference = paired("roc_auc", y, (p, 0.5), (floor, 0.5))
        lo, hi = difference["difference_interval"]
        assert lo < hi
        verdicts[name] = compare_with_floor("roc_auc", {"roc_auc": METRICS_AUC(y, p)}, {"roc_auc": METRICS_AUC(y, floor)}, "gbdt", difference=difference)
    assert verdicts["noise"]["verdict"] == "level with" and verdicts["noise"]["beats"] is False
    assert verdicts["better"]["verdict"] == "beats" and verdicts["better"]["difference_interval"][0] > 0
    assert verdicts["worse"]["verdict"] == "loses to" and "loses to the floor" in verdicts["worse"]["text"]
    assert "95% interval" in verdicts["worse"]["text"] and "paired resamples" in verdicts["worse"]["text"]
    # lower is better: the sign turns
    flipped = paired("brier", y, (worse, 0.5), (floor, 0.5))
    assert flipped["verdict"] == "loses to"


def METRICS_AUC(y: np.ndarray, p: np.ndarray) -> float:  # noqa: N802
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))


def test_a_grouped_bootstrap_resamples_whole_groups_and_is_wider_when_groups_agree_within() -> None:
    from aiaas.intervals import draws, metric_intervals

    groups = np.repeat(np.arange(40), 25)  # 40 learners of 25 answers each, each learner's answers alike
    rng = np.random.default_rng(0)
    ability = rng.random(40)[groups]
    y = (rng.random(len(groups)) < ability).astype(int)
    p = np.clip(ability + rng.normal(0, 0.3, len(groups)), 0, 1)
    for sample in draws(len(y), groups, 5):
        picked = groups[sample]
        assert all(np.sum(picked == g) % 25 == 0 for g in np.unique(picked))  # whole groups, never part of one
    by_rows = metric_intervals(["roc_auc"], y, p)["roc_auc"]
    by_groups = metric_intervals(["roc_auc"], y, p, groups=groups)["roc_auc"]
    assert by_groups[1] - by_groups[0] > by_rows[1] - by_rows[0]


def _register(registry: Registry, floor: dict, task: str = "finance/fraud") -> int:
    from aiaas.registry import NewVersion

    return registry.register(NewVersion(task, "torch", "mlp", {"average_precision": floor["model"]}, "sha256:x",
                                        {"floor": floor, "intervals": {"average_precision": [0.71, 0.88]}}), lambda folder: None).version


def test_promote_refuses_a_version_that_loses_to_its_floor_unless_forced(aiaas_home: Path) -> None:
    import os
    import subprocess
    import sys

    from typer.testing import CliRunner

    from aiaas.cli import app
    from aiaas.errors import UserError
    from aiaas.intervals import paired
    from aiaas.selection import compare_with_floor

    registry = Registry.from_settings()
    y, floor = _scores(400, 1.0, 0)
    worse = np.clip(floor - 0.5 * (y - 0.5) * np.random.default_rng(1).random(len(y)), 0, 1)
    loses = compare_with_floor("average_precision", {"average_precision": 0.80}, {"average_precision": 0.85}, "gbdt (classical)",
                               difference=paired("average_precision", y, (worse, 0.5), (floor, 0.5)))
    level = compare_with_floor("average_precision", {"average_precision": 0.6726}, {"average_precision": 0.6749}, "gbdt (classical)",
                               difference={"difference_interval": [-0.02, 0.015], "verdict": "level with", "resamples": 500})
    losing, even = _register(registry, loses), _register(registry, level)
    listing = CliRunner().invoke(app, ["models"], env={"COLUMNS": "300"}).output
    assert "loses to the floor (0.850)" in listing and "level with the floor (0.675)" in listing
    assert "0.710 to 0.880" in listing  # every metric with its interval
    with pytest.raises(UserError, match="loses to its classical floor"):
        registry.promote("finance/fraud", losing)
    registry.promote("finance/fraud", even)  # a difference within noise is no reason to refuse
    refused = subprocess.run([sys.executable, "-m", "aiaas", "promote", "finance/fraud", str(losing)], capture_output=True, text=True,
                             env={**os.environ}, timeout=120)
    assert refused.returncode == 2 and "loses to its classical floor" in refused.stderr and "--force" in refused.stderr
    assert "Traceback" not in refused.stderr and registry.alias("finance/fraud") == even
    registry.start_rollout("finance/fraud", losing, "canary", 10)  # a canary may still try it
    forced = subprocess.run([sys.executable, "-m", "aiaas", "promote", "finance/fraud", str(losing), "--force"], capture_output=True,
                            text=True, env={**os.environ}, timeout=120)
    assert forced.returncode == 0, forced.stderr
    assert registry.alias("finance/fraud") == losing


def test_training_reports_every_metric_with_its_interval_and_a_paired_verdict(lending, tmp_path: Path) -> None:
    host, registry = lending
    path = tmp_path / "loans.csv"
    loans(500).to_csv(path, index=False)
    result = _train(host, registry, path, architecture="mlp", epochs=2)
    for name, value in result.metrics.items():
        lo, hi = result.intervals[name]
        assert lo <= value + 1e-9 and value <= hi + 1e-9 and lo < hi
    floor = result.floor
    assert floor["verdict"] in ("beats", "level with", "loses to") and floor["difference_interval"] is not None
    assert floor["difference_interval"][0] <= floor["margin"] <= floor["difference_interval"][1]
    assert result.version.provenance["intervals"] == result.intervals
    report = result.report.read_text()
    assert "95% interval (bootstrap)" in report and f"{result.intervals['roc_auc'][0]:.4f}" in report


# -- evaluation that cannot fool its reader ---------------------------------------


def test_evaluate_says_how_many_rows_the_version_learned_from_and_scores_the_new_ones_apart(lending, tmp_path: Path) -> None:
    import json

    from aiaas.evaluation import evaluate_version

    host, registry = lending
    train_path, fresh_path, mixed_path = tmp_path / "train.csv", tmp_path / "fresh.csv", tmp_path / "mixed.csv"
    loans(600).to_csv(train_path, index=False)
    fresh = loans(400, seed=7)
    fresh.to_csv(fresh_path, index=False)
    result = _train(host, registry, train_path, architecture="gbdt")
    version = result.version.version
    split_rows = json.loads((registry.folder(result.version) / "manifest.json").read_text())["rows"]
    learned = split_rows["train"] + split_rows["validation"]

    on_training = evaluate_version(host, registry, "lending/default", train_path, version, None, None, {})
    assert on_training.seen == learned  # every training and validation row recognised, no test row
    assert "the metrics over all rows flatter it" in on_training.warning and on_training.unseen_metrics is not None
    assert on_training.to_json()["unseen"]["rows"] == split_rows["test"]
    assert "rows the version learned from" in on_training.report.read_text()

    on_fresh = evaluate_version(host, registry, "lending/default", fresh_path, version, None, None, {})
    assert on_fresh.seen <= 2  # a false match is about 1 in 1,000
    assert (on_fresh.unseen_metrics is None) == (on_fresh.seen == 0)  # new rows are scored apart only beside seen ones

    written = pd.read_csv(train_path)
    written[["income", "debt_ratio"]] = written[["income", "debt_ratio"]].map(lambda v: float(f"{v:.17g}"))  # re-exported elsewhere
    pd.concat([written.iloc[:300], fresh]).to_csv(mixed_path, index=False)
    mixed = evaluate_version(host, registry, "lending/default", mixed_path, version, None, None, {})
    assert 300 * 0.6 <= mixed.seen <= 300  # the training and validation rows among the first 300 (the rest are test rows)
    assert mixed.unseen_metrics is not None and set(mixed.unseen_metrics) == set(mixed.metrics)
    assert all(lo <= mixed.metrics[k] <= hi for k, (lo, hi) in mixed.intervals.items())


def test_train_promote_does_not_serve_a_version_that_loses_to_its_floor(aiaas_home: Path, tmp_path: Path) -> None:
    from aiaas.training import TrainRequest, train

    from .test_third_party_plugin import insurance_plugin, write_claims

    host, registry = host_with("insurance", insurance_plugin()), Registry.from_settings()
    result = train(host, registry, TrainRequest("insurance/claims", write_claims(tmp_path, 400, 0), epochs=2, promote=True), quiet=True)
    assert result.floor["verdict"] == "loses to"  # two epochs of an MLP against gradient-boosted trees
    assert not result.promoted and registry.alias("insurance/claims") is None
    assert any("not promoted" in n and "--force" in n for n in result.notes)


# -- base rates -------------------------------------------------------------------


def test_prior_corrects_probabilities_and_the_operating_point_for_production_s_rate(lending, tmp_path: Path) -> None:
    from aiaas.versions import load_version

    host, registry = lending
    rng = np.random.default_rng(3)
    population = loans(30_000, seed=3)
    risk = 3 * population["debt_ratio"] - np.log(population["income"]) / 3 + (population["grade"] == "D") * 1.2 + rng.normal(0, 1.5, len(population))
    population["defaulted"] = (risk > np.quantile(risk, 0.97)).astype(int)  # 3% default in production
    train_part, future = population.iloc[:20_000], population.iloc[20_000:]
    positives = train_part[train_part["defaulted"] == 1]
    sample = pd.concat([positives, train_part[train_part["defaulted"] == 0].sample(len(positives) * 2, random_state=0)]).sample(frac=1, random_state=0)
    path = tmp_path / "resampled.csv"
    sample.to_csv(path, index=False)  # a third defaults: the team kept every default and a few of the rest

    plain = _train(host, registry, path, architecture="gbdt")
    corrected = _train(host, registry, path, architecture="gbdt", prior="0.03")
    p_plain = load_version(host, registry, "lending/default", plain.version.version).probabilities(future.drop(columns="defaulted"))
    p_corrected = load_version(host, registry, "lending/default", corrected.version.version).probabilities(future.drop(columns="defaulted"))
    assert p_plain.mean() > 0.04  # calibrated to the sample's third: it overstates every default
    assert abs(p_corrected.mean() - 0.03) < 0.005  # corrected to production's rate
    from aiaas.metrics import METRICS

    y = future["defaulted"].to_numpy()
    assert METRICS["brier"](y, p_corrected, 0.5) < METRICS["brier"](y, p_plain, 0.5)
    assert METRICS["calibration_error"](y, p_corrected, 0.5) < METRICS["calibration_error"](y, p_plain, 0.5)
    rates = corrected.version.provenance["label_rates"]
    assert abs(rates["training"]["default"] - 1 / 3) < 0.02 and rates["production"]["default"] == 0.03
    at = corrected.version.provenance["at_production_rate"]
    assert at["precision"] < corrected.metrics.get("precision", 1.0) + 1e-9 and at["rate"] == 0.03
    report = corrected.report.read_text()
    assert "production (--prior): repaid 97.0%, default 3.0%" in report and "at production&#x27;s label rate" in report
    # the operating point is chosen for production's mix: it flags about as many rows as default, not a sample's worth
    flagged = (p_corrected >= load_version(host, registry, "lending/default", corrected.version.version).threshold).mean()
    flagged_plain = (p_plain >= load_version(host, registry, "lending/default", plain.version.version).threshold).mean()
    assert 0.015 < flagged < 0.06 and flagged < flagged_plain


def test_a_bad_prior_is_one_line_naming_the_labels(lending, tmp_path: Path) -> None:
    from aiaas.errors import UserError

    host, registry = lending
    path = tmp_path / "loans.csv"
    loans(300).to_csv(path, index=False)
    for prior, message in (("2", "not a rate between 0 and 1"), ("late=0.1", "'late' is not a label of lending.default (repaid, default)"),
                           ("default=0.1,repaid=0.5", "must sum to 1")):
        with pytest.raises(UserError, match=re.escape(message)):
            _train(host, registry, path, architecture="gbdt", prior=prior)
    assert registry.listing("lending/default") == []


def test_calibration_that_makes_validation_calibration_worse_is_not_applied() -> None:
    from aiaas.calibration import checked
    from aiaas.training import _calibration_fact

    # already calibrated: a fifth of the rows scored 0.2 are positive, four fifths of those scored 0.8
    logits = np.repeat(np.log([0.25, 4.0]), 500)
    y = np.concatenate([np.arange(500) % 5 == 0, np.arange(500) % 5 != 0]).astype(int)
    calibration, check = checked("binary", logits, y)
    assert calibration is None and not check["kept"] and check["validation_before"] < 1e-9 < check["validation_after"]
    assert "not applied" in _calibration_fact(calibration, {}, check)
    # overconfident (a class-weighted model's raw scores): calibration is kept
    rng = np.random.default_rng(0)
    z = rng.normal(0, 1.5, 1000)
    y = (rng.random(1000) < 1 / (1 + np.exp(-z))).astype(int)
    calibration, check = checked("binary", 3 * z + 2, y)
    assert calibration is not None and check["kept"] and check["validation_after"] < check["validation_before"]
    assert "Platt scaling; kept" in _calibration_fact(calibration, {}, check)


# -- the command line -------------------------------------------------------------


def _aiaas(*args: str, cwd: Path | None = None):  # noqa: ANN202
    """The CLI as a user runs it, output piped (not a terminal)."""
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "aiaas", *args], capture_output=True, text=True, env={**os.environ, "COLUMNS": "80"},
                          timeout=300, cwd=cwd)


def test_sample_writes_the_file_it_is_asked_for_or_says_it_writes_a_folder(aiaas_home: Path, tmp_path: Path) -> None:
    for task, name in (("education/knowledge-tracing", "answers.csv"), ("finance/fraud", "tx.csv"), ("retail/review-sentiment", "r.jsonl")):
        made = _aiaas("sample", task, "--out", str(tmp_path / name), "--rows", "300")
        assert made.returncode == 0, made.stderr
        assert (tmp_path / name).is_file() and f"to {tmp_path / name}" in made.stdout
    assert (tmp_path / "answers.mastery.csv").is_file()
    assert pd.read_json(tmp_path / "r.jsonl", lines=True).shape[0] == 300
    images = _aiaas("sample", "healthcare/chest-xray", "--out", str(tmp_path / "xrays.csv"), "--rows", "20")
    assert images.returncode == 2 and "give --out a folder" in images.stderr and "Traceback" not in images.stderr
    folder = _aiaas("sample", "healthcare/chest-xray", "--out", str(tmp_path / "xrays"), "--rows", "20")
    assert folder.returncode == 0 and "under the folder" in folder.stdout


def test_a_folder_of_tables_trains_and_an_empty_one_is_one_line(aiaas_home: Path, tmp_path: Path) -> None:
    from aiaas.loading import load_data
    from aiaas.plugins import get_host

    for i in range(2):
        _aiaas("sample", "finance/fraud", "--out", str(tmp_path / "tables" / f"part{i}.csv"), "--rows", "200", "--seed", str(i))
    one = [len(load_data(get_host(), "finance/fraud", tmp_path / "tables" / f"part{i}.csv", None, None, {})) for i in range(2)]
    both = load_data(get_host(), "finance/fraud", tmp_path / "tables", None, None, {})
    assert len(both) == sum(one) and "read 2 files" in both.notes[-1]
    assert len(load_data(get_host(), "finance/fraud", Path(str(tmp_path / "tables" / "part*.csv")), None, None, {})) == sum(one)
    (tmp_path / "empty").mkdir()
    failed = _aiaas("train", "education/knowledge-tracing", "--data", str(tmp_path / "empty"))
    assert failed.returncode == 2 and "holds no file that adapter" in failed.stderr and "Traceback" not in failed.stderr


def test_identifiers_are_never_cut_when_output_is_piped(aiaas_home: Path) -> None:
    listing = _aiaas("tasks")
    assert "education/knowledge-tracing" in listing.stdout and "…" not in listing.stdout
    assert "healthcare/chest-xray" in _aiaas("plugins").stdout


def test_commands_that_read_a_version_s_data_again_use_the_options_it_was_trained_with(lending, tmp_path: Path) -> None:
    from aiaas.evaluation import evaluate_version
    from aiaas.optimize import optimize

    host, registry = lending
    path = tmp_path / "loans.csv"
    loans(400).rename(columns={"defaulted": "Class"}).to_csv(path, index=False)
    result = _train(host, registry, path, architecture="mlp", epochs=1, label="Class")
    version = result.version.version
    assert evaluate_version(host, registry, "lending/default", path, version, None, None, {}).rows == 400  # no --label needed again
    optimized = optimize(host, registry, "lending/default", version)  # re-reads the training data's splits by its label column
    assert optimized.comparison.rows > 0


# -- labels and inputs that do not match ------------------------------------------


def test_labels_that_are_not_the_schema_s_are_mapped_explicitly_or_by_the_documented_rule(lending, tmp_path: Path) -> None:
    from aiaas.errors import InvalidInput, UserError
    from aiaas.evaluation import evaluate_version
    from aiaas.labels import LABEL_MAP

    host, registry = lending
    frame = loans(400)
    yes_no, paid_late = tmp_path / "yes_no.csv", tmp_path / "paid_late.csv"
    frame.assign(defaulted=np.where(frame["defaulted"] == 1, "yes", "no")).to_csv(yes_no, index=False)
    frame.assign(defaulted=np.where(frame["defaulted"] == 1, "late", "paid")).to_csv(paid_late, index=False)

    ruled = _train(host, registry, yes_no, architecture="gbdt")
    assert any("'no' -> repaid, 'yes' -> default (the positive-value rule" in n for n in ruled.notes), ruled.notes
    assert "labels mapped" in ruled.report.read_text()
    with pytest.raises(InvalidInput, match=r"\['late', 'paid'\] that are not labels of lending.default \(repaid, default\); map them with --label-map"):
        _train(host, registry, paid_late, architecture="gbdt")
    with pytest.raises(UserError, match=r"'overdue', which is not a label of lending.default \(repaid, default\)"):
        _train(host, registry, paid_late, architecture="gbdt", options={LABEL_MAP: {"late": "overdue", "paid": "repaid"}})
    mapped = _train(host, registry, paid_late, architecture="gbdt", options={LABEL_MAP: {"late": "default", "paid": "repaid"}})
    assert any("by --label-map: 'late' -> default, 'paid' -> repaid" in n for n in mapped.notes)
    assert mapped.metrics["roc_auc"] == pytest.approx(ruled.metrics["roc_auc"])  # the same labels, the same model
    again = evaluate_version(host, registry, "lending/default", paid_late, mapped.version.version, None, None, {})
    assert again.rows == 400  # evaluate maps the file's labels as training did


def test_the_cli_takes_a_label_map(tmp_path: Path) -> None:
    from aiaas.errors import UserError
    from aiaas.labels import parse_label_map

    assert parse_label_map("yes=accepted, no = rejected") == {"yes": "accepted", "no": "rejected"}
    with pytest.raises(UserError, match="VALUE=LABEL"):
        parse_label_map("yes:accepted")


def test_a_plugin_set_aside_at_load_is_logged_answers_503_and_every_command_says_why(aiaas_home: Path, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from fastapi.testclient import TestClient

    from aiaas.errors import NotFound
    from aiaas.plugins import Host, PluginSetAside
    from aiaas.serving.app import create_app
    from aiaas.settings import get_settings

    future = lending_plugin()
    future.AIAAS_API = ">=9,<10"  # type: ignore[attr-defined]  # built for a hook API this host lacks
    host = Host(entry_points=False)
    host.register_plugin("lending", future)

    def fail() -> object:
        raise ImportError("No module named 'lightgbm_extras'")

    host._register_module("claims", fail, "aiaas-claims", "0.3.0")
    with pytest.raises(PluginSetAside, match=r"lending/default is provided by plugin lending .* set aside at load: built for hook API >=9,<10"):
        host.task("lending/default")
    with pytest.raises(PluginSetAside, match=r"claims/triage is provided by plugin claims \(aiaas-claims\).*import failed: ImportError"):
        host.task("claims/triage")
    with pytest.raises(NotFound):
        host.task("weather/rain")

    with caplog.at_level(logging.WARNING, logger="aiaas.serving"):
        client = TestClient(create_app(host, Registry.from_settings(), get_settings()))
    assert any("plugin lending" in r.getMessage() and "set aside" in r.getMessage() and "lending/default" in r.getMessage() for r in caplog.records)
    assert any("plugin claims" in r.getMessage() and "import failed" in r.getMessage() for r in caplog.records)
    for path in ("/v1/lending/default/predict", "/v1/claims/triage/predict"):
        answer = client.post(path, json={"instances": [{}]})
        assert answer.status_code == 503 and "set aside at load" in answer.json()["detail"], (path, answer.text)
    assert client.post("/v1/weather/rain/predict", json={"instances": [{}]}).status_code == 404


def test_an_input_model_field_the_model_never_saw_is_named_and_not_required(aiaas_home: Path, tmp_path: Path) -> None:
    from dataclasses import replace

    from pydantic import BaseModel

    from aiaas.tabular import mismatch_notes

    class LoanForm(BaseModel):
        income: float
        debt_ratio: float
        grade: str
        colour: str  # the plugin's form asks for it; no training table has it

    module = lending_plugin()
    task = next(iter(module.register_tasks()))  # type: ignore[attr-defined]
    module.register_tasks = aiaas.hookimpl(lambda: [replace(task, input_model=f"{__name__}:LoanForm")])  # type: ignore[attr-defined]
    globals()["LoanForm"] = LoanForm
    host, registry = host_with("lending", module), Registry.from_settings()
    path = tmp_path / "loans.csv"
    loans(300).to_csv(path, index=False)
    result = _train(host, registry, path, architecture="gbdt", promote=True)
    assert any("required field 'colour' is not a column the model was trained on" in n for n in result.notes), result.notes
    client = ready_client(host, registry)
    schema = {t["task"]: t for t in client.get("/v1/tasks").json()}["lending/default"]["input_schema"]
    assert "colour" not in schema.get("required", []) and {"income", "debt_ratio", "grade"} <= set(schema["required"])
    answer = client.post("/v1/lending/default/predict", json={"instances": [{"income": 30000.0, "debt_ratio": 0.4, "grade": "B"}]})
    assert answer.status_code == 200, answer.text
    assert mismatch_notes(LoanForm, ["income", "debt_ratio", "grade", "tenure"])[0].startswith("trained column(s) 'tenure' are not fields")


# -- progress a person can follow -------------------------------------------------


def test_training_piped_to_a_log_prints_a_line_per_stage_and_epoch_as_it_goes(aiaas_home: Path, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    _aiaas("sample", "finance/fraud", "--out", str(tmp_path / "tx.csv"), "--rows", "3000")
    run = subprocess.Popen([sys.executable, "-m", "aiaas", "train", "finance/fraud", "--data", str(tmp_path / "tx.csv"), "--arch", "mlp",
                            "--epochs", "2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ})
    first = run.stdout.readline()  # type: ignore[union-attr]
    assert run.poll() is None, "nothing was printed until the run ended"
    assert first.startswith("[0:0") and "preparing" in first
    rest = run.communicate(timeout=300)[0]
    assert run.returncode == 0, rest
    for line in ("training 1/2: loss", "training 2/2: loss", "fitting the classical floor", "evaluating and registering", "preparing 3/3: done"):
        assert line in rest, rest


def test_progress_lines_say_each_stage_and_a_long_step_only_now_and_then() -> None:
    import io

    from aiaas.progress import Lines, new_progress

    assert isinstance(new_progress(False, terminal=False), Lines) and not isinstance(new_progress(False, terminal=True), Lines)
    out = io.StringIO()
    lines = Lines(out)
    stage, chunks = lines.add_task("preparing", total=3, status="loading"), lines.add_task("spilling", total=None, status="")
    for i in range(100):
        lines.update(chunks, status=f"{i * 1000:,} rows")  # a long step's running count
    lines.update(stage, advance=1, status="fitting")
    lines.update(stage, status="fitting the floor")
    said = out.getvalue().splitlines()
    assert len(said) == 4 and said[-1].endswith("preparing 1/3: fitting the floor"), said


def test_the_report_reads_as_prose_and_draws_the_boosting_curve(lending, tmp_path: Path) -> None:
    import json

    host, registry = lending
    path = tmp_path / "loans.csv"
    loans(500).to_csv(path, index=False)
    result = _train(host, registry, path, architecture="gbdt")
    report = result.report.read_text()
    facts = re.search(r"<h2>About this model</h2><table>(.*?)</table>", report, re.S).group(1)  # type: ignore[union-attr]
    assert "{" not in facts and "'threshold'" not in facts  # no raw Python dicts
    assert re.search(r"train \d{3} · validation \d{2,3} · test \d{2,3} rows", facts)
    assert re.search(r"threshold 0\.\d+ \(max_f1\); on validation: precision 0\.\d{3}", facts)
    assert not re.search(r"\d\.\d{6,}", facts)  # no 17-digit floats
    assert (result.report.parent / "training.png").is_file() and 'alt="training.png"' in report
    history = json.loads((result.report.parent.parent / "manifest.json").read_text())["history"]
    assert any("training_loss" in h and "validation_loss" in h for h in history)


def test_validation_and_test_disagreeing_beyond_noise_is_pointed_out_with_the_likely_reasons() -> None:
    from aiaas.intervals import gap_note, split_size

    learners = np.repeat(np.arange(30), 40)
    learners[:8214 // 10] = 0  # one learner with hundreds of answers
    y = np.zeros((len(learners), 1), dtype=int)
    sizes = {"validation": split_size(y, learners, "groups ('learner')", long_at=200), "test": split_size(y[:300], learners[:300])}
    note = gap_note("roc_auc", (0.760, [0.74, 0.78]), (0.887, [0.87, 0.90]), sizes)
    assert note is not None and "disagree beyond noise" in note and "validation ROC-AUC 0.7600" in note
    assert "groups ('learner')" in note and "the largest of them 821 scored steps" in note and "1 over 200" in note
    assert gap_note("roc_auc", (0.760, [0.70, 0.80]), (0.78, [0.75, 0.81]), sizes) is None  # within noise: nothing to say


def test_a_bad_option_value_is_one_line(aiaas_home: Path) -> None:
    for args, words in ((["promote", "finance/fraud", "1", "--canary", "100"], "Invalid value for '--canary'"),
                        (["train", "finance/fraud", "--data", "x.csv", "--epochs", "x"], "Invalid value for '--epochs'"),
                        (["train", "finance/fraud", "--data", str(aiaas_home), "--prior", "1.5"], "")):
        done = _aiaas(*args)
        assert done.returncode == 2 and done.stderr.startswith("error:") and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert words in done.stderr and "Traceback" not in done.stderr


def test_a_large_test_split_gets_an_interval_from_a_share_of_its_rows_narrowed_to_its_size(monkeypatch: pytest.MonkeyPatch) -> None:
    from aiaas import intervals

    y, p = _scores(4000, 1.0, 2)
    whole = intervals.metric_intervals(["roc_auc"], y, p)["roc_auc"]
    monkeypatch.setattr(intervals, "MAX_ROWS", 1000)  # resample a quarter of the rows, narrowed by the square root of that share
    shared = intervals.metric_intervals(["roc_auc"], y, p)["roc_auc"]
    value = METRICS_AUC(y, p)
    assert shared[0] < value < shared[1]
    assert abs((shared[1] - shared[0]) - (whole[1] - whole[0])) < 0.5 * (whole[1] - whole[0])  # about as wide as from every row
    groups = np.repeat(np.arange(400), 10)
    assert intervals.paired("roc_auc", y, (p, 0.5), (p * 0.5, 0.5), groups)["difference_interval"] is not None
