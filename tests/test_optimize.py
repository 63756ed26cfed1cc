"""`aiaas optimize`: a version exported to ONNX (and int8), checked against the original on
its validation split, registered with its lineage, and served by the onnx runtime."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from aiaas.cli import app as cli
from aiaas.errors import UserError
from aiaas.optimize import optimize
from aiaas.registry import Registry
from aiaas.serving.app import create_app
from aiaas.settings import get_settings
from aiaas.testing import host_with
from aiaas.training import TrainRequest, train

from .test_model_quality import lending_plugin, loans
from .test_third_party_plugin import insurance_plugin, write_claims

CLAIMS = [{"amount": 30.0, "policy_age_years": 15, "region": "north"}, {"amount": 20000.0, "policy_age_years": 0.5, "region": "east"}]


def test_a_torch_version_becomes_an_onnx_version_that_serves_the_same_answers(claims_model, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    host, registry, _ = claims_model
    monkeypatch.setattr("aiaas.cli.get_host", lambda: host)
    result = CliRunner().invoke(cli, ["optimize", "insurance/claims", "1", "--to", "onnx"])
    assert result.exit_code == 0, result.output
    assert "ms per row" in result.output and "registered insurance/claims version 2" in result.output

    row = registry.get("insurance/claims", 2)
    manifest = json.loads((registry.folder(row) / "manifest.json").read_text())
    assert row.runtime == "onnx" and row.architecture == "mlp" and row.provenance["optimized_from"] == 1
    lineage = manifest["optimized"]
    assert lineage["from_version"] == 1 and lineage["quantize"] is None and lineage["rows"] > 0
    assert lineage["max_abs_difference"] < 1e-4 and lineage["agreement"] == 1.0 and lineage["after"] == pytest.approx(lineage["before"])
    assert all(lineage[k][1] > 0 for k in ("size_bytes", "ms_per_row")) and set(row.metrics) == {"macro_f1", "accuracy"}
    files = {p.name for p in registry.folder(row).iterdir()}
    assert "model.onnx" in files and not any(name.endswith((".pkl", ".pickle", ".pt", ".joblib")) for name in files)

    client = TestClient(create_app(host, registry, get_settings()))
    eager = client.post("/v1/insurance/claims/predict", json={"instances": CLAIMS}).json()
    registry.promote("insurance/claims", 2, force=True)  # optimised from a version that loses to its floor
    onnx = TestClient(create_app(host, registry, get_settings())).post("/v1/insurance/claims/predict", json={"instances": CLAIMS}).json()
    assert onnx["model"]["runtime"] == "onnx" and onnx["model"]["version"] == 2
    for a, b in zip(eager["predictions"], onnx["predictions"]):
        assert a["label"] == b["label"] and a["probabilities"] == pytest.approx(b["probabilities"], abs=1e-4)
        assert a["input_check"]["in_distribution"] == b["input_check"]["in_distribution"]

    int8 = optimize(host, registry, "insurance/claims", 1, quantize="int8")
    assert int8.version.version == 3 and int8.comparison.agreement >= 0.9 and abs(int8.comparison.after - int8.comparison.before) < 0.05


def test_what_cannot_be_optimised_gets_a_clear_error(claims_model, tmp_path: Path) -> None:  # noqa: ANN001
    host, registry, _ = claims_model
    optimize(host, registry, "insurance/claims", 1)
    with pytest.raises(UserError, match="optimised version already; optimise its source, version 1"):
        optimize(host, registry, "insurance/claims", 2)
    with pytest.raises(UserError, match="--to tensorrt"):
        optimize(host, registry, "insurance/claims", 1, to="tensorrt")
    with pytest.raises(UserError, match="--quantize int4"):
        optimize(host, registry, "insurance/claims", 1, quantize="int4")
    with pytest.raises(UserError, match="not here; give it with --data"):
        optimize(host, registry, "insurance/claims", 1, data=tmp_path / "gone.csv")

    lending = host_with("lending", lending_plugin())
    loans(400).to_csv(tmp_path / "loans.csv", index=False)
    trees = train(lending, Registry.from_settings(), TrainRequest("lending/default", tmp_path / "loans.csv", architecture="gbdt"), quiet=True)
    with pytest.raises(UserError, match="classical models are not exported to ONNX"):
        optimize(lending, Registry.from_settings(), "lending/default", trees.version.version)


@pytest.mark.slow
def test_a_keras_version_exports_through_keras_own_converter(aiaas_home: Path, tmp_path: Path) -> None:
    host, registry = host_with("insurance", insurance_plugin()), Registry.from_settings()
    train(host, registry, TrainRequest("insurance/claims", write_claims(tmp_path, 400, 0), epochs=1, runtime="tensorflow"), quiet=True)
    result = optimize(host, registry, "insurance/claims", 1)
    assert result.comparison.max_abs_difference < 1e-4 and result.comparison.agreement == 1.0
    assert registry.get("insurance/claims", 2).provenance["optimized_from"] == 1
