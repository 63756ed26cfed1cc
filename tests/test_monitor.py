"""Monitoring from the prediction log: drift against the training reference, metrics from feedback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient

from aiaas.monitoring.monitor import monitor, since, write_monitoring_report
from aiaas.monitoring.reference import drift, features, psi, reference
from aiaas.serving.app import create_app
from aiaas.settings import get_settings

URL = "/v1/insurance/claims"
DAY = datetime.now(UTC) - timedelta(days=1)


def _claims(n: int, scale: float, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [{"amount": float(a), "policy_age_years": float(y), "region": str(r)} for a, y, r in
            zip(rng.lognormal(7, 1, n) * scale, rng.uniform(0, 20, n), rng.choice(["north", "south", "east"], n))]


def test_reference_and_psi_measure_a_shift() -> None:
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"amount": rng.normal(100, 10, 2000), "region": rng.choice(["a", "b"], 2000),
                          "text": [" ".join(f"word{w}" for w in rng.integers(0, 500, int(k))) for k in rng.integers(5, 60, 2000)],
                          "history": [[1] * int(k) for k in rng.integers(2, 30, 2000)]})
    ref = reference(train, rng.uniform(0, 1, 500))
    assert {"amount", "region", "text.words", "history.length"} <= set(ref["features"])
    same = pd.DataFrame({"amount": rng.normal(100, 10, 500), "region": rng.choice(["a", "b"], 500)})
    moved = pd.DataFrame({"amount": rng.normal(160, 10, 500), "region": ["c"] * 500})
    assert max(drift(ref, same, np.array([])).values()) < 0.1
    shifted = drift(ref, moved, rng.uniform(0.9, 1, 500))
    assert shifted["amount"] > 1 and shifted["region"] > 1 and shifted["score"] > 1
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0 and "text.words" in features(train)


def test_monitor_reports_drift_and_metrics_from_feedback(claims_model, tmp_path) -> None:  # noqa: ANN001
    host, registry, _ = claims_model
    client = TestClient(create_app(host, registry, get_settings()))
    ordinary = client.post(f"{URL}/predict", json={"instances": _claims(200, 1, 1)}).json()["predictions"]
    calm = monitor(host, registry, client.app.state.predictions, "insurance/claims", DAY)
    assert calm.production == 1 and calm.versions[0].predictions == 200 and calm.drift["amount"] < 0.25
    assert calm.drift["novelty"] < 0.25 and calm.versions[0].flagged <= 10
    for answer in ordinary[:50]:
        client.post(f"{URL}/feedback", json={"prediction_id": answer["prediction_id"], "label": answer["label"]})
    for answer in ordinary[50:60]:
        wrong = next(label for label in ("approve", "investigate", "deny") if label != answer["label"])
        client.post(f"{URL}/feedback", json={"prediction_id": answer["prediction_id"], "label": wrong})
    client.post(f"{URL}/predict", json={"instances": _claims(400, 40, 2)})  # amounts forty times larger
    result = monitor(host, registry, client.app.state.predictions, "insurance/claims", DAY)
    (version,) = result.versions
    assert version.predictions == 600 and version.feedback == 60 and abs(version.metrics["accuracy"] - 50 / 60) < 1e-9
    assert result.drift["amount"] > 0.25 > result.drift["region"]
    assert result.drift["novelty"] > 0.25 and version.flagged >= 300  # most forty-fold amounts are past the training range
    report = write_monitoring_report(result, tmp_path / "monitor")
    page = report.read_text()
    assert "PSI amount" in page and "drift.png" in page and (tmp_path / "monitor" / "distribution_amount.png").stat().st_size > 5000
    assert "flagged as unlike training" in page and (tmp_path / "monitor" / "distribution_novelty.png").is_file()

    client.app.state.drift.refresh()
    metrics = client.get("/metrics").text
    assert 'aiaas_drift_psi{feature="amount",task="insurance/claims"}' in metrics


def test_since_reads_durations_and_dates() -> None:
    assert abs((datetime.now(UTC) - since("24h")).total_seconds() - 86400) < 5
    assert since("2026-11-01").year == 2026
    import pytest

    from aiaas.errors import UserError

    with pytest.raises(UserError, match="give 30m, 24h, 7d"):
        since("yesterday")
