"""Training, artifacts and registration of finance/fraud models, on both runtimes."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from aiaas.pipeline import Pipeline
from aiaas_finance.adapters import derive_history

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("runtime", ["keras", "torch"])
def test_trained_model_beats_a_model_that_learned_nothing(trained, runtime: str) -> None:
    result = trained[runtime]
    fraud_rate = pd.read_csv(trained.data).is_fraud.mean()
    # A model with no signal scores PR-AUC near the fraud rate (about 0.01) and ROC-AUC near 0.5.
    assert result.metrics["average_precision"] > max(0.4, 20 * fraud_rate), result.metrics
    assert result.metrics["roc_auc"] > 0.8, result.metrics
    assert set(result.metrics) == {"average_precision", "roc_auc", "recall_at_1pct_fpr", "precision", "recall"}


def test_versions_record_runtime_metrics_and_provenance(trained) -> None:
    rows = trained.registry.versions("finance/fraud")
    assert [(r.version, r.runtime, r.architecture) for r in rows] == [(1, "tensorflow", "mlp"), (2, "torch", "mlp")]
    assert trained.registry.alias("finance/fraud") == 1
    row = rows[1]
    assert row.data_fingerprint.startswith("sha256:") and row.data_fingerprint == rows[0].data_fingerprint
    assert row.provenance["plugin"] == "finance" and row.provenance["plugin_version"] == "0.1.0"
    assert {"aiaas", "numpy", "torch"} <= set(row.provenance["packages"])
    assert "by time" in row.provenance["split"]


def test_artifacts_are_safetensors_keras_json_and_a_report(trained) -> None:
    allowed = {".json", ".safetensors", ".keras", ".html", ".png"}
    for result in (trained["keras"], trained["torch"]):
        folder = trained.registry.folder(result.version)
        files = [p for p in folder.rglob("*") if p.is_file()]
        assert {p.suffix for p in files} <= allowed, files
        for path in files:
            assert not path.read_bytes()[:2] in (b"\x80\x04", b"\x80\x05"), f"{path} looks like a pickle"
        report = (folder / "report" / "report.html").read_text()
        assert report.count("data:image/png;base64") >= 4
        assert {"pr_curve.png", "roc_curve.png", "confusion_matrix.png", "training.png"} <= {p.name for p in files}
    with zipfile.ZipFile(trained.registry.folder(trained["keras"].version) / "model.keras") as archive:
        assert {"config.json", "model.weights.h5"} <= set(archive.namelist())


def test_preprocessor_statistics_come_from_the_training_split_only(trained) -> None:
    folder = trained.registry.folder(trained["torch"].version)
    manifest = json.loads((folder / "manifest.json").read_text())
    state = json.loads((folder / "preprocessor.json").read_text())
    amount = next(c for c in state["columns"] if c["name"] == "amount")
    frame = pd.read_csv(trained.data)
    oldest = frame.sort_values("timestamp", kind="stable").head(manifest["rows"]["train"])
    assert amount["kind"] == "log"
    assert amount["mean"] == pytest.approx(np.log1p(oldest.amount).mean(), rel=1e-6)
    assert amount["mean"] != pytest.approx(np.log1p(frame.amount).mean(), rel=1e-6)


def test_a_loaded_version_predicts_what_the_trained_one_did(trained) -> None:
    for result in (trained["keras"], trained["torch"]):
        pipeline = Pipeline.load(trained.host, trained.registry.folder(result.version), result.version.version)
        frame = derive_history(pd.read_csv(trained.data, dtype={"merchant_category": str})).drop(columns=["is_fraud"])
        p = pipeline.probabilities(frame)
        labels = pd.read_csv(trained.data).is_fraud.to_numpy()
        from sklearn.metrics import average_precision_score

        assert average_precision_score(labels, p) > 0.3
        assert 0 <= p.min() and p.max() <= 1


def test_probabilities_are_calibrated_despite_class_weights(trained) -> None:
    """Class weights inflate raw fraud probabilities about fifty-fold; Platt scaling on validation brings them back."""
    frame = derive_history(pd.read_csv(trained.data, dtype={"merchant_category": str}))
    for result in (trained["keras"], trained["torch"]):
        pipeline = Pipeline.load(trained.host, trained.registry.folder(result.version), result.version.version)
        p = pipeline.probabilities(frame.drop(columns=["is_fraud"]))
        assert 0.5 < p.mean() / frame.is_fraud.mean() < 2, (p.mean(), frame.is_fraud.mean())
        assert pipeline.manifest["calibration"]["a"] > 0
