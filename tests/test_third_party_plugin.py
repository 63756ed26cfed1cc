"""A third-party plugin adds an industry with only records and a model builder,
reusing the core's table adapter, preprocessor, answer and explainer: a multiclass
task trained, registered and served end to end."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, StrictFloat

import aiaas
from aiaas.registry import Registry
from aiaas.serving.app import create_app
from aiaas.settings import get_settings
from aiaas.testing import host_with
from aiaas.training import TrainRequest, train

pytestmark = pytest.mark.slow


class Claim(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: StrictFloat
    policy_age_years: StrictFloat
    region: str


def write_claims(out: Path, rows: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(7, 1, rows)
    age = rng.uniform(0, 20, rows)
    region = rng.choice(["north", "south", "east"], rows)
    score = np.log(amount) - 0.2 * age + (region == "east") * 1.5
    label = np.select([score < 4.5, score < 6.5], ["approve", "investigate"], "deny")
    path = out / "claims.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"amount": amount.round(2), "policy_age_years": age.round(1), "region": region, "outcome": label}).to_csv(path, index=False)
    return path


def build_mlp(spec: aiaas.ModelSpec, params: dict[str, Any]) -> Any:
    import torch

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Linear(spec.inputs["features"][0], 32), torch.nn.ReLU(),
                                           torch.nn.Linear(32, spec.outputs))

        def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
            return self.net(inputs["features"])

    return Net()


def insurance_plugin() -> types.ModuleType:
    module = types.ModuleType("aiaas_insurance")
    module.AIAAS_API = ">=1.1,<2"  # type: ignore[attr-defined]
    schema = aiaas.LabelSchema("insurance.claims", "multiclass", (aiaas.Label("approve"), aiaas.Label("investigate"), aiaas.Label("deny")))
    task = aiaas.Task(
        name="insurance/claims", modality="tabular", labels="insurance.claims", input_model=Claim,
        output_model="aiaas:Classification", preprocessor="tabular", postprocessor="classification",
        default_adapter="insurance.claims-table", default_architecture="mlp", explainer="feature-ablation",
        metrics=("macro_f1", "accuracy"), sample=write_claims, label_column="outcome",
        quickstart=aiaas.Quickstart(rows=300, epochs=1),
    )
    module.register_label_schemas = aiaas.hookimpl(lambda: [schema])
    module.register_tasks = aiaas.hookimpl(lambda: [task])
    module.register_data_adapters = aiaas.hookimpl(lambda: [aiaas.DataAdapter(
        name="insurance.claims-table", task="insurance/claims", load="aiaas.tables:load_table", suffixes=(".csv", ".parquet"))])
    module.register_architectures = aiaas.hookimpl(lambda: [aiaas.Architecture(
        name="mlp", task="insurance/claims", runtime="torch", builder=build_mlp, params={"learning_rate": 0.01})])
    return module


def test_a_new_industry_trains_and_serves_on_core_components(aiaas_home: Path, tmp_path: Path) -> None:
    host = host_with("insurance", insurance_plugin())
    data = write_claims(tmp_path, 1500, 0)
    result = train(host, Registry.from_settings(), TrainRequest("insurance/claims", data, epochs=30, promote=True, force=True), quiet=True)
    assert result.metrics["accuracy"] > 0.85, result.metrics
    assert (result.report.parent / "confusion_matrix.png").exists()

    client = TestClient(create_app(host, Registry.from_settings(), get_settings()))
    claims = [{"amount": 30.0, "policy_age_years": 15, "region": "north"}, {"amount": 20000.0, "policy_age_years": 0.5, "region": "east"}]
    response = client.post("/v1/insurance/claims/predict", json={"instances": claims})
    assert response.status_code == 200, response.text
    answers = response.json()["predictions"]
    assert [a["label"] for a in answers] == ["approve", "deny"]
    assert all(sum(a["probabilities"].values()) == pytest.approx(1, abs=1e-4) for a in answers)
    explanation = client.post("/v1/insurance/claims/explain", json={"instances": claims[1:]}).json()["explanations"][0]
    assert explanation["attributions"][0]["feature"] in {"amount", "region", "policy_age_years"}
    assert explanation["label"] == "deny"  # /explain names the label it explains (the answered one)
    plain = client.post("/v1/insurance/claims/predict", json={"instances": claims, "explain": False}).json()["predictions"]
    explained = client.post("/v1/insurance/claims/predict", json={"instances": claims, "explain": True}).json()["predictions"]
    assert all("explanation" not in a for a in plain)
    assert [a["explanation"]["label"] for a in explained] == ["approve", "deny"] and explained[1]["explanation"] == explanation
    upload = client.post("/v1/insurance/claims/predict", files=[("files", ("claims.csv", b"amount\n1", "text/csv"))])
    assert upload.status_code == 415 and "takes a JSON body" in upload.text
    response = client.post("/v1/insurance/claims/predict", json={"instances": [{"amount": 1.0, "region": "north"}]})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "instances", 0, "policy_age_years"]


def test_quickstart_uses_the_tasks_own_sample_size_and_epochs(aiaas_home: Path) -> None:
    from aiaas.quickstart import ensure_models

    host = host_with("insurance", insurance_plugin())
    lines = list(ensure_models(host, Registry.from_settings(), rows=20_000, epochs=9, only=["insurance/claims"]))
    assert "insurance/claims: training mlp on 300 sample instances" in lines[0]
    (version,) = Registry.from_settings().versions("insurance/claims")
    assert version.provenance["data"].endswith("claims.csv") and Registry.from_settings().alias("insurance/claims") == version.version
    manifest = (Registry.from_settings().folder(version) / "manifest.json").read_text()
    assert '"epochs": 1' in manifest
