"""A version's files are checked before it serves, and what killed runs leave behind is removed."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aiaas.integrity import ArtifactDamaged
from aiaas.registry import NewVersion, Registry
from aiaas.serving.app import create_app
from aiaas.settings import get_settings
from aiaas.versions import load_version

CLAIM = {"amount": 30.0, "policy_age_years": 15, "region": "north"}


def test_every_file_is_recorded_and_checked(claims_model) -> None:  # noqa: ANN001
    host, registry, folder = claims_model
    manifest = json.loads((folder / "manifest.json").read_text())
    assert {"model.safetensors", "preprocessor.json", "report/report.html"} <= set(manifest["files"])
    load_version(host, registry, "insurance/claims")  # untouched: loads

    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0xFF  # a few bytes changed: the weights still load, but give other answers
    weights.write_bytes(bytes(data))
    with pytest.raises(ArtifactDamaged, match="insurance/claims version 1: file model.safetensors does not match"):
        load_version(host, registry, "insurance/claims")
    response = TestClient(create_app(host, registry, get_settings())).post("/v1/insurance/claims/predict", json={"instances": [CLAIM]})
    assert response.status_code == 503 and "model.safetensors" in response.json()["detail"]


def test_a_rewritten_manifest_is_caught_too(claims_model) -> None:  # noqa: ANN001
    host, registry, folder = claims_model
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "preprocessor.json").write_text("{}")
    manifest["files"]["preprocessor.json"] = "0" * 64
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactDamaged, match="manifest.json does not match"):
        load_version(host, registry, "insurance/claims")


def test_a_missing_file_is_named(claims_model) -> None:  # noqa: ANN001
    host, registry, folder = claims_model
    (folder / "report" / "report.html").unlink()
    with pytest.raises(ArtifactDamaged, match="file report/report.html is missing"):
        load_version(host, registry, "insurance/claims")


def test_leftovers_of_killed_runs_are_removed(aiaas_home: Path) -> None:
    registry = Registry.from_settings()
    task_dir = registry.artifacts / "finance__fraud"
    dead = task_dir / ".incoming-999999999-abc"  # its writer is gone
    live = task_dir / f".incoming-{os.getpid()}-def"  # a run still writing
    old_orphan, new_orphan = task_dir / "0123old", task_dir / "0123new"  # complete, but no row points to them
    for folder in (dead, live, old_orphan, new_orphan):
        folder.mkdir(parents=True)
        (folder / "model.safetensors").write_bytes(b"half")
    past = time.time() - 2 * 3600
    os.utime(old_orphan, (past, past))
    row = registry.register(NewVersion("finance/fraud", "torch", "torch-mlp", {}, "sha256:x", {}), lambda folder: None)
    assert not dead.exists() and not old_orphan.exists()
    assert live.exists() and new_orphan.exists() and registry.folder(row).exists()
    live.rename(task_dir / ".incoming-999999998-def")
    create_app(registry=registry)  # start-up cleans too
    assert not (task_dir / ".incoming-999999998-def").exists() and registry.folder(row).exists()


def test_a_byte_flipped_under_a_running_server_is_reported_and_never_loaded_again(claims_model, caplog) -> None:  # noqa: ANN001
    """Regression: a byte flipped in a served model file went unnoticed (the server answered from memory, /readyz said serving)."""
    import logging

    from typer.testing import CliRunner

    from aiaas.cli import app as cli

    host, registry, folder = claims_model
    settings = get_settings().model_copy(update={"integrity_check_seconds": 0.1})
    with TestClient(create_app(host, registry, settings)) as client:
        wait_until_ready(client)
        assert client.post("/v1/insurance/claims/predict", json={"instances": [CLAIM]}).status_code == 200
        weights = folder / "model.safetensors"
        data = bytearray(weights.read_bytes())
        data[-5] ^= 0xFF
        with caplog.at_level(logging.ERROR, logger="aiaas.serving"):
            weights.write_bytes(bytes(data))
            deadline = time.monotonic() + 20
            while "integrity" not in (ready := client.get("/readyz/insurance/claims").json()):
                assert time.monotonic() < deadline, ready
                time.sleep(0.05)
        assert "model.safetensors does not match" in ready["integrity"]["1"]
        assert 'aiaas_model_files_damaged{task="insurance/claims",version="1"} 1.0' in client.get("/metrics").text
        assert any("changed on disk" in r.getMessage() for r in caplog.records)
        listed = client.get("/admin/models").json()["versions"]
        assert "model.safetensors" in listed[0]["problems"]["integrity"]
        # this worker keeps the copy it verified at load; it says so, and answers
        assert client.post("/v1/insurance/claims/predict", json={"instances": [CLAIM]}).status_code == 200
    models = CliRunner().invoke(cli, ["models"], env={"AIAAS_HOME": str(registry.artifacts.parent), "COLUMNS": "200"})
    assert "files changed on disk" in models.output and "model.safetensors" in models.output, models.output
    fresh = TestClient(create_app(host, registry, get_settings()))  # a worker that would have to load it refuses
    response = fresh.post("/v1/insurance/claims/predict", json={"instances": [CLAIM]})
    assert response.status_code == 503 and "model.safetensors" in response.json()["detail"]


def wait_until_ready(client: TestClient, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, client.get("/readyz").json()
        time.sleep(0.05)
