"""The aiaas command on finance/fraud: the same flags as every task, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from aiaas.cli import app
from aiaas.plugins import get_host
from aiaas.registry import Registry
from aiaas.serving.app import create_app
from aiaas.settings import get_settings

runner = CliRunner()


def _aiaas(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AIAAS_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "aiaas", *args], capture_output=True, text=True, env=env, timeout=120)


def test_sample_writes_the_tasks_own_format(tmp_path: Path, aiaas_home: Path) -> None:
    result = runner.invoke(app, ["sample", "finance/fraud", "--out", str(tmp_path / "s"), "--rows", "300"])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(tmp_path / "s" / "transactions.csv")
    assert len(frame) == 300 and {"is_fraud", "amount", "timestamp", "merchant_category"} <= set(frame.columns)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "finance/nope", "--data", "x.csv"], "unknown task 'finance/nope'; installed tasks:"),
        (["train", "finance/fraud", "--data", "missing.csv"], "missing.csv: no such file or folder"),
        (["train", "finance/fraud", "--data", "{sample}", "--label", "Class"], "no label column 'Class'"),
        (["train", "finance/fraud", "--data", "{sample}", "--runtime", "jax"], "unknown runtime 'jax'"),
        (["train", "finance/fraud", "--data", "{sample}", "--arch", "resnet18"], "no architecture resnet18 on runtime any for finance/fraud; known: gbdt (classical), logistic (classical), ensemble (classical), mlp (torch), mlp (tensorflow)"),
        (["train", "finance/fraud", "--data", "{sample}", "--arch", "gbdt", "--runtime", "torch"], "no architecture gbdt on runtime torch"),
        (["train", "finance/fraud", "--data", "{sample}", "--param", "oops"], "--param takes KEY=VALUE"),
        (["promote", "finance/fraud", "99"], "finance/fraud has no version 99"),
        (["rollback", "finance/fraud"], "no earlier production version"),
        (["predict", "finance/fraud", "--input", "{sample}", "--output", "o.csv"], "has no promoted model"),
        (["train", "finance/fraud", "--nope"], "No such option: --nope"),
        (["train", "finance/fraud", "--data", "{sample}", "--max-memory", "12"], "--max-memory 12: at least 64MB"),
        (["train", "finance/fraud", "--data", "{sample}", "--max-memory", "lots"], "--max-memory 'lots': give a size such as 2GB"),
    ],
)
def test_cli_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    sample = tmp_path / "tx.csv"
    pd.DataFrame({"amount": [1.0], "is_fraud": [0]}).to_csv(sample, index=False)
    result = _aiaas(*[a.replace("{sample}", str(sample)) for a in args], home=tmp_path / "home")
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.slow
def test_models_predict_evaluate_promote_rollback(in_trained_home, tmp_path: Path) -> None:
    trained = in_trained_home
    listed = json.loads(runner.invoke(app, ["models", "finance/fraud", "--json"]).stdout)
    assert [(r["version"], r["production"]) for r in listed] == [(1, True), (2, False)]

    source = tmp_path / "today.csv"
    pd.read_csv(trained.data).drop(columns=["is_fraud"]).head(500).to_csv(source, index=False)
    result = runner.invoke(app, ["predict", "finance/fraud", "--input", str(source), "--output", str(tmp_path / "scored.csv")])
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(tmp_path / "scored.csv")
    assert len(scored) == 500 and scored.transaction_id.tolist() == pd.read_csv(source).transaction_id.tolist()
    assert {"fraud_probability", "risk_score", "band", "decision", "reasons"} <= set(scored.columns)
    assert isinstance(json.loads(scored.reasons.iloc[0]), list)

    result = runner.invoke(app, ["evaluate", "finance/fraud", "--data", str(trained.data), "--version", "2", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["version"] == 2 and report["metrics"]["roc_auc"] > 0.8 and Path(report["report"]).exists()

    assert runner.invoke(app, ["promote", "finance/fraud", "2"]).exit_code == 0
    assert trained.registry.alias("finance/fraud") == 2
    assert runner.invoke(app, ["rollback", "finance/fraud"]).exit_code == 0
    assert trained.registry.alias("finance/fraud") == 1


def _own_columns(path: Path, n: int = 4000) -> Path:
    """A team's own table: anonymised numeric features plus Time and Amount, label Class."""
    rng = np.random.default_rng(0)
    v = rng.normal(size=(n, 4))
    amount = rng.lognormal(3, 1.2, n)
    logit = 2.5 * v[:, 0] - 1.5 * v[:, 1] + 0.8 * np.log1p(amount) - 9
    frame = pd.DataFrame(v, columns=["V1", "V2", "V3", "V4"]).assign(
        Time=np.sort(rng.uniform(0, 172_800, n)).round(), Amount=amount.round(2),
        Class=(rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int))
    frame.to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_training_on_a_teams_own_columns_serves_their_schema(aiaas_home: Path, tmp_path: Path) -> None:
    data = _own_columns(tmp_path / "creditcard.csv")
    result = runner.invoke(app, ["train", "finance/fraud", "--data", str(data), "--label", "Class", "--arch", "mlp", "--runtime", "torch",
                                 "--epochs", "8", "--promote", "--force", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["version"] == 1 and summary["promoted"] and summary["metrics"]["roc_auc"] > 0.8
    assert (summary["runtime"], summary["architecture"]) == ("torch", "mlp")
    assert "by time ('Time')" in summary["provenance"]["split"]

    client = TestClient(create_app(get_host(), Registry.from_settings(), get_settings()))
    good = {"V1": 2.0, "V2": -1.0, "V3": 0.0, "V4": 0.1, "Amount": 120.0}
    response = client.post("/v1/finance/fraud/predict", json={"instances": [good]})
    assert response.status_code == 200, response.text
    assert response.json()["predictions"][0]["reasons"][0]["feature"] in {"V1", "V2", "Amount"}
    transaction = {"timestamp": "2026-03-14T12:13:00", "amount": 31.5, "merchant_category": "5411",
                   "channel": "pos", "country": "FR", "card_present": True}
    response = client.post("/v1/finance/fraud/predict", json={"instances": [transaction]})
    assert response.status_code == 422
    locs = {tuple(d["loc"]) for d in response.json()["detail"]}
    assert ("body", "instances", 0, "V1") in locs and ("body", "instances", 0, "amount") in locs
    schema = {t["task"]: t for t in client.get("/v1/tasks").json()}["finance/fraud"]["input_schema"]
    assert {"V1", "Amount"} <= set(schema["properties"]) and "Time" not in schema["properties"]  # it orders the time split
    assert any("'Time'" in n and "orders the time split" in n for n in summary["notes"])


def test_tasks_lists_the_vertical(aiaas_home: Path) -> None:
    tasks = json.loads(runner.invoke(app, ["tasks", "--json"]).stdout)
    fraud = next(t for t in tasks if t["task"] == "finance/fraud")
    assert fraud["labels"] == ["legit", "fraud"] and fraud["plugin"] == "finance"
    assert set(fraud["architectures"]) == {"gbdt (classical)", "logistic (classical)", "ensemble (classical)", "mlp (tensorflow)", "mlp (torch)"}
    assert fraud["metrics"][0] == "average_precision"


@pytest.mark.slow
def test_scoring_a_file_without_a_needed_column_is_a_one_line_error(trained, tmp_path: Path) -> None:
    source = tmp_path / "partial.csv"
    pd.read_csv(trained.data).drop(columns=["is_fraud", "channel"]).head(20).to_csv(source, index=False)
    result = _aiaas("predict", "finance/fraud", "--input", str(source), "--output", str(tmp_path / "o.csv"), home=trained.home)
    assert result.returncode == 2
    assert "missing column(s) 'channel'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.slow
def test_quickstart_trains_and_promotes_once_then_reuses(aiaas_home: Path) -> None:
    from aiaas.quickstart import ensure_models

    first = list(ensure_models(get_host(), Registry.from_settings(), rows=4000, epochs=2, only=["finance/fraud"]))
    assert any("finance/fraud: version 1 promoted" in line for line in first), first
    assert Registry.from_settings().alias("finance/fraud") == 1
    assert (aiaas_home / "samples" / "finance__fraud" / "transactions.csv").exists()
    second = list(ensure_models(get_host(), Registry.from_settings(), rows=4000, epochs=2, only=["finance/fraud"]))
    assert second == ["finance/fraud: version 1 is in production; keeping it"]
    assert len(Registry.from_settings().versions("finance/fraud")) == 1


@pytest.mark.slow
def test_serve_answers_over_http(trained) -> None:
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "AIAAS_HOME": str(trained.home)}
    server = subprocess.Popen([sys.executable, "-m", "aiaas", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    assert json.load(response) == {"status": "ok"}
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "server did not come up"
                time.sleep(0.3)
        body = json.dumps({"instances": [{"timestamp": "2026-03-14T02:13:00", "amount": 249.0, "merchant_category": "5732",
                                          "channel": "online", "country": "US", "card_present": False}]}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/finance/fraud/predict", data=body,
                                         headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.load(response)
        assert answer["model"]["version"] == 1 and "risk_score" in answer["predictions"][0]
    finally:
        server.terminate()
        server.wait(timeout=20)
