"""The chest-xray task from the command line: sample, train from each data layout, predict."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from aiaas import InvalidInput
from aiaas.cli import app
from aiaas.plugins import get_host
from aiaas.registry import Registry
from aiaas.training import TrainRequest, train
from aiaas_healthcare.simulator import write_sample

from .conftest import TASK, Trained

runner = CliRunner()


def _aiaas(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aiaas", *args], capture_output=True, text=True, env={"AIAAS_HOME": str(home), "PATH": ""})


def test_sample_writes_the_folder_convention_and_dicom(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sample", TASK, "--out", str(tmp_path / "png"), "--rows", "12", "--option", "size=40"])
    assert result.exit_code == 0, result.output
    pngs = sorted((tmp_path / "png").glob("*/*.png"))
    assert len(pngs) == 12 and {p.parent.name for p in pngs} <= {"normal", "pneumonia"}
    manifest = pd.read_csv(tmp_path / "png" / "manifest.csv")
    assert list(manifest.columns) == ["path", "label", "patient_id"] and len(manifest) == 12
    result = runner.invoke(app, ["sample", TASK, "--out", str(tmp_path / "dcm"), "--rows", "4", "--option", "format=dicom"])
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "dcm").glob("*/*.dcm"))) == 4
    bad = _aiaas(tmp_path / "home", "sample", TASK, "--out", str(tmp_path / "x"), "--rows", "2", "--option", "colour=red")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "colour" in bad.stderr


def test_predict_writes_path_probabilities_and_decision(in_trained_home: Trained, tmp_path: Path) -> None:
    out = tmp_path / "scored.csv"
    result = runner.invoke(app, ["predict", TASK, "--input", str(in_trained_home.data), "--output", str(out)])
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(out)
    assert len(scored) == 600
    assert {"path", "probabilities.normal", "probabilities.pneumonia", "decision"} <= set(scored.columns)
    assert "image" not in scored.columns and scored["heatmap"].isna().all()  # pixels and heatmaps stay out of tables
    truth = scored["path"].str.contains("/pneumonia/")
    assert scored.loc[truth, "probabilities.pneumonia"].mean() > scored.loc[~truth, "probabilities.pneumonia"].mean() + 0.3


def test_train_reads_a_dicom_folder_and_keeps_no_names(in_trained_home: Trained, tmp_path: Path) -> None:
    data = write_sample(tmp_path / "dicom", 60, seed=2, size=32, format="dicom")
    host, registry = get_host(), Registry.from_settings()
    result = train(host, registry, TrainRequest(TASK, data, architecture="small-cnn", epochs=1), quiet=True)
    assert result.version.provenance["split"].startswith("by group ('patient_id')")  # pseudonymous ids from the files
    folder = registry.folder(result.version)
    stored = " ".join(p.read_text(errors="ignore") for p in folder.rglob("*") if p.is_file() and p.suffix in (".json", ".html"))
    assert "Synthetic" not in stored and "Sample General Hospital" not in stored
    out = tmp_path / "scored.csv"
    assert runner.invoke(app, ["predict", TASK, "--input", str(data), "--output", str(out), "--version", str(result.version.version)]).exit_code == 0
    scored = pd.read_csv(out)
    assert scored["patient_id"].str.startswith("anon-").all() and scored["metadata.PatientIdentityRemoved"].eq("YES").all()
    header_values = scored.drop(columns=["path", "filename"]).to_csv()  # file names are the user's own
    assert "Synthetic" not in header_values and "P00001" not in header_values and "19600101" not in header_values


def test_the_sensitivity_target_can_be_changed(in_trained_home: Trained, tmp_path: Path) -> None:
    data = write_sample(tmp_path / "scans", 120, seed=4, size=28)
    result = train(get_host(), Registry.from_settings(), TrainRequest(TASK, data, architecture="small-cnn", epochs=2,
                                                                     params={"operating_target": 0.8}), quiet=True)
    manifest = json.loads((Registry.from_settings().folder(result.version) / "manifest.json").read_text())
    assert manifest["operating_point"]["target"] == 0.8 and "operating_target" not in manifest["params"]


def test_train_and_predict_from_npz(in_trained_home: Trained, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = (rng.random((80, 28, 28)) * 255).astype(np.uint8)
    labels = rng.integers(0, 2, (80, 1))
    np.savez(tmp_path / "mnist.npz", train_images=images[:60], train_labels=labels[:60], val_images=images[60:], val_labels=labels[60:])
    result = runner.invoke(app, ["train", TASK, "--data", str(tmp_path / "mnist.npz"), "--arch", "small-cnn", "--epochs", "1", "--json"])
    assert result.exit_code == 0, result.output
    version = json.loads(result.output[result.output.index("{"):])
    assert version["provenance"]["data"].endswith("mnist.npz")
    out = tmp_path / "scored.parquet"
    scored = runner.invoke(app, ["predict", TASK, "--input", str(tmp_path / "mnist.npz"), "--output", str(out), "--version", str(version["version"])])
    assert scored.exit_code == 0, scored.output
    frame = pd.read_parquet(out)
    assert len(frame) == 80 and frame["path"].iloc[0] == "mnist.npz:train[0]" and frame["path"].iloc[-1] == "mnist.npz:val[19]"
    result = runner.invoke(app, ["train", TASK, "--data", str(tmp_path / "mnist.npz"), "--option", "splits=test", "--epochs", "1"])
    assert isinstance(result.exception, InvalidInput) and "no split 'test'; it has train, val" in str(result.exception)


@pytest.mark.parametrize("args, message", [
    (["--data", "nowhere"], "no such file or folder"),
    (["--data", "{data}/normal"], "is not in a label folder"),
    (["--data", "{data}", "--weights", "{tmp}/w.pth"], "give a .safetensors file"),
    (["--data", "{data}", "--weights", "{tmp}/missing.safetensors"], "no such file"),
    (["--data", "{data}", "--option", "image_size=abc"], "image_size must be a whole number"),
    (["--data", "{data}", "--param", "operating_target=1.5"], "give a rate between 0 and 1"),
])
def test_cli_errors_are_one_line(trained: Trained, tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "w.pth").write_bytes(b"\x80\x04not really")
    args = [a.format(data=trained.data, tmp=tmp_path) for a in args]
    result = _aiaas(tmp_path / "home", "train", TASK, "--arch", "small-cnn", "--epochs", "1", *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
