"""``aiaas train --ray`` and ``aiaas predict --ray`` on a real two-node Ray cluster on this machine
(``ray start --head`` plus ``ray start --address``), started and stopped by a fixture."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from aiaas.testing.helpers import processes_named

from .test_out_of_core import _transactions

pytestmark = pytest.mark.slow
pytest.importorskip("ray")


@pytest.fixture(scope="module")
def bucket() -> Iterator[tuple[str, Any]]:
    """An S3 API (moto's server) the cluster's nodes reach too: started first, so they inherit its credentials."""
    pytest.importorskip("moto.server")
    from .test_artifact_store import moto_bucket

    with moto_bucket() as found:
        yield found


@pytest.fixture(scope="module")
def cluster(bucket: tuple[str, Any]) -> Iterator[str]:
    """Two Ray nodes of two logical CPUs each: a head and a worker node that joins it."""
    from aiaas.testing.helpers import ray_cluster

    with ray_cluster(nodes=2, cpus=2) as address:
        yield address


def _parts(folder: Path, rows: int, files: int, seed: int = 3) -> tuple[Path, pd.DataFrame]:
    frame = _transactions(rows, seed=seed)
    parts = folder / "parts"
    parts.mkdir()
    for i, index in enumerate(np.array_split(np.arange(rows), files)):
        frame.iloc[index].to_parquet(parts / f"part-{i}.parquet", index=False)
    return parts, frame


def _aiaas(home: Path, *args: str, timeout: float = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aiaas", *args], env={**os.environ, "AIAAS_HOME": str(home), **(env or {})},
                          capture_output=True, text=True, timeout=timeout)


def _row(home: Path, version: int) -> Any:
    from aiaas.registry import Registry

    return Registry(f"sqlite:///{home / 'registry.db'}", home / "artifacts").get("finance/fraud", version)


def _manifest(home: Path, version: int) -> dict:
    return json.loads((home / "artifacts" / _row(home, version).artifact_dir / "manifest.json").read_text())


@pytest.fixture(scope="module")
def trained(cluster: str, bucket: tuple[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """gbdt trained on the cluster (promoted, with its checkpoints and version in the bucket) and, on the same
    data, out of core on one machine."""
    folder = tmp_path_factory.mktemp("trained")
    parts, frame = _parts(folder, 4000, 4)
    home = folder / "home"
    common = ("train", "finance/fraud", "--data", str(parts), "--arch", "gbdt", "--param", "rounds=80", "--json")
    spread = _aiaas(home, *common, "--ray", "--address", cluster, "--workers", "2", "--promote", "--force", env={"AIAAS_ARTIFACTS": bucket[0]})
    assert spread.returncode == 0, spread.stderr[-3000:]
    alone = _aiaas(home, *common, "--max-memory", "64MB")
    assert alone.returncode == 0, alone.stderr[-3000:]
    return {"home": home, "parts": parts, "frame": frame, "cluster": json.loads(spread.stdout), "alone": json.loads(alone.stdout),
            "manifests": (_manifest(home, json.loads(spread.stdout)["version"]), _manifest(home, json.loads(alone.stdout)["version"]))}


def test_trained_on_two_nodes_is_what_one_machine_trains_and_serves(trained: dict[str, Any], bucket: tuple[str, Any]) -> None:
    """gbdt data-parallel across the two nodes' workers, its checkpoints and version in S3: the same split as
    one machine out of core (row counts and the rows' fingerprint), a test ROC-AUC within 0.05 of it, and a
    version that a server with nothing cached fetches from the bucket and serves."""
    uri, s3 = bucket
    home, frame, a, b = trained["home"], trained["frame"], trained["cluster"], trained["alone"]
    assert a["data_fingerprint"] == b["data_fingerprint"] and a["data_fingerprint"].startswith("rows:")
    first, second = trained["manifests"]
    assert first["rows"] == second["rows"] and first["split"] == second["split"]
    assert abs(a["metrics"]["roc_auc"] - b["metrics"]["roc_auc"]) < 0.05, (a["metrics"], b["metrics"])
    assert first["files"] and first["input_checks"] and first["floor"]["text"]
    stored = [o["Key"] for o in s3.list_objects_v2(Bucket="models", Prefix="aiaas/")["Contents"]]
    assert any("/runs/" in key and "/checkpoint_" in key and key.endswith("model.txt") for key in stored), stored
    assert any(key.endswith(f"{_row(home, a['version']).artifact_dir}/manifest.json") for key in stored)

    from aiaas.plugins import get_host
    from aiaas.registry import Registry
    from aiaas.testing import isolated_home, ready_client

    shutil.rmtree(home / "artifacts")  # the version comes from the bucket
    with isolated_home(home, artifacts=uri):
        client = ready_client(get_host(), Registry.from_settings())
        row = json.loads(frame.drop(columns=["is_fraud", "transaction_id"]).iloc[:2].to_json(orient="records", date_format="iso"))
        answer = client.post("/v1/finance/fraud/predict", json={"instances": row})
        assert answer.status_code == 200, answer.text
        assert answer.json()["model"]["version"] == a["version"]


def _registered(folder: Path) -> list[dict]:
    """The loop state of each checkpoint Ray Train's controller has registered (a checkpoint's folder
    exists a moment before: a worker killed in that moment takes the run back to the one before)."""
    try:
        snapshot = json.loads((folder / "checkpoint_manager_snapshot.json").read_text())
        return [json.loads((folder / r["checkpoint_dir_name"] / "loop.json").read_text()) for r in snapshot["checkpoint_results"]]
    except (OSError, ValueError, KeyError):
        return []


def _wait(condition: Callable[[], object], what: str, process: subprocess.Popen | None = None, timeout: float = 180) -> None:
    """Until ``condition()`` holds; fails at once if ``process`` has exited."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert process is None or process.poll() is None, f"the process exited ({process.returncode}) before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_a_killed_worker_and_a_killed_driver_lose_no_epoch(cluster: str, tmp_path: Path) -> None:
    """torch DDP on two workers: a worker killed after the first checkpoint is replaced and the run goes
    on from that checkpoint; the driver killed later, ``--resume RUN`` finishes the run; the version
    records both, each epoch trained once."""
    parts, _ = _parts(tmp_path, 3000, 4)
    home = tmp_path / "home"
    args = ("train", "finance/fraud", "--data", str(parts), "--arch", "mlp", "--runtime", "torch", "--epochs", "3",
            "--param", "patience=10", "--ray", "--address", cluster, "--workers", "2", "--json")
    env = {**os.environ, "AIAAS_HOME": str(home)}
    said = tmp_path / "driver.err"
    with said.open("w") as err:
        driver = subprocess.Popen([sys.executable, "-m", "aiaas", *args], env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    try:
        _wait(lambda: said.read_text().startswith("run ") and "\n" in said.read_text(), "the run's id", driver)
        run = said.read_text().split()[1]
        folder = home / "runs" / f"{run}-mlp"
        _wait(lambda: _registered(folder), "the first checkpoint", driver)
        workers = processes_named("RayTrainWorker")
        assert workers, "no Ray Train worker process to kill"
        os.kill(workers[0], signal.SIGKILL)
        _wait(lambda: any(state.get("resumed") for state in _registered(folder)), "a checkpoint of the run gone on after the kill", driver)
        os.killpg(driver.pid, signal.SIGKILL)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
    resumed = _aiaas(home, *args, "--resume", run)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    result = json.loads(resumed.stdout)
    manifest = _manifest(home, result["version"])
    epochs = [row["epoch"] for row in manifest["history"]]
    assert epochs == list(range(1, 4))
    went_on = [n for n in manifest["notes"] if "went on from its checkpoint" in n]
    assert len(went_on) >= 2, manifest["notes"]

    other = _aiaas(home, "train", "finance/fraud", "--data", str(parts), "--arch", "gbdt", "--ray", "--address", cluster, "--resume", run)
    assert other.returncode != 0 and "trained something else" in other.stderr and "Traceback" not in other.stderr


def test_scored_on_the_cluster_with_a_killed_actor_writes_each_row_once(cluster: str, trained: dict[str, Any], bucket: tuple[str, Any],
                                                                       tmp_path: Path) -> None:
    """``aiaas predict --ray`` with the cluster-trained version (its files from the bucket): the actors killed
    mid-run are replaced and the files they were on are scored again, skipping the partitions already
    written; the folder holds every input row exactly once."""
    parts, frame = trained["parts"], trained["frame"]
    out = tmp_path / "scored"
    env = {**os.environ, "AIAAS_HOME": str(trained["home"]), "AIAAS_ARTIFACTS": bucket[0], "AIAAS_TESTING_PARTITION_DELAY": "2"}
    scoring = subprocess.Popen([sys.executable, "-m", "aiaas", "predict", "finance/fraud", "--input", str(parts), "--output", str(out),
                                "--ray", "--address", cluster, "--workers", "2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    _wait(lambda: list(out.glob("part-*.parquet")), "the first partition", scoring)
    actors = processes_named("ScoreParts")
    assert actors, "no scoring actor to kill"
    for pid in actors:  # one of them has just written a partition of the file it is on
        os.kill(pid, signal.SIGKILL)
    stdout, stderr = scoring.communicate(timeout=300)
    assert scoring.returncode == 0, stderr[-3000:]
    assert "already there" in stdout, stdout  # the killed actor's file was scored again, its finished partition kept
    scored = pd.read_parquet(out)
    assert len(scored) == len(frame)
    assert sorted(scored["transaction_id"]) == sorted(frame["transaction_id"])
    assert {"fraud_probability", "in_distribution"} <= set(scored.columns)


@pytest.mark.parametrize(("extra", "said"), [
    (["--workers", "2"], "are for --ray"),
    (["--ray", "--workers", "0"], "--workers must be at least 1"),
    (["--ray", "--resume", "../x"], "a run id is letters"),
    (["--ray", "--resume", "20260101-000000-abcdef"], "--resume 20260101-000000-abcdef: no such run"),
])
def test_a_wrong_cluster_option_is_one_line_before_any_work(tmp_path: Path, extra: list[str], said: str) -> None:
    parts, _ = _parts(tmp_path, 300, 1)
    run = _aiaas(tmp_path / "home", "train", "finance/fraud", "--data", str(parts), *extra)
    assert run.returncode != 0 and said in run.stderr and "Traceback" not in run.stderr, run.stderr[-2000:]
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_a_file_a_worker_refuses_is_one_line_naming_it(cluster: str, tmp_path: Path) -> None:
    """A ``UserError`` raised on a node (here: the adapter finds no label in a file) reaches the CLI as one line."""
    parts, _ = _parts(tmp_path, 600, 2)
    bad = parts / "part-1.parquet"
    pd.read_parquet(bad).drop(columns=["is_fraud"]).to_parquet(bad, index=False)
    run = _aiaas(tmp_path / "home", "train", "finance/fraud", "--data", str(parts), "--arch", "gbdt", "--ray", "--address", cluster)
    errors = [line for line in run.stderr.splitlines() if line.startswith("error")]
    assert run.returncode != 0 and "Traceback" not in run.stderr, run.stderr[-3000:]
    assert len(errors) == 1 and "is_fraud" in errors[0], run.stderr[-3000:]


MODALITIES = {  # task, the sample's data (in the folder it writes), the options of a quick run, how close the two test metrics must be
    "sequence": ("education/knowledge-tracing", "answers.csv", ("--epochs", "3"), 1500, 0.05),  # dkt on Keras
    # 160 images for two epochs: two data-parallel workers and one process land anywhere between 0.24 and 0.73
    # ROC AUC on 24 test images, so only the split and the fingerprint are compared (None: no metric bound).
    "image": ("healthcare/chest-xray", ".", ("--arch", "small-cnn", "--epochs", "2", "--option", "image_size=28"), 160, None),
    "text": ("retail/review-sentiment", "reviews.csv", (), 600, 0.0),
}


@pytest.mark.parametrize("modality", list(MODALITIES))
def test_each_modality_trains_on_the_cluster_as_on_one_machine_and_serves(cluster: str, modality: str, tmp_path: Path) -> None:
    """An answer log (regrouped by learner on each node), an image folder (read in parts) and review text
    (its model fitted on the driver's sample) trained through ``--ray``: the same split as out of core on
    one machine (rows and the rows' fingerprint), a test metric within the stated distance where the run
    is large enough for its metric to mean something, and a version that serves."""
    task, name, options, rows, tolerance = MODALITIES[modality]
    home = tmp_path / "home"
    made = _aiaas(home, "sample", task, "--out", str(tmp_path / "data"), "--rows", str(rows))
    assert made.returncode == 0, made.stderr
    data = tmp_path / "data" / name
    common = ("train", task, "--data", str(data), *options, "--json")
    spread = _aiaas(home, *common, "--ray", "--address", cluster, "--workers", "2", "--promote", "--force")
    assert spread.returncode == 0, spread.stderr[-3000:]
    alone = _aiaas(home, *common, "--max-memory", "64MB")
    assert alone.returncode == 0, alone.stderr[-3000:]
    a, b = json.loads(spread.stdout), json.loads(alone.stdout)
    assert a["data_fingerprint"] == b["data_fingerprint"]
    assert set(a["metrics"]) == set(b["metrics"])
    if tolerance is not None:
        metric = next(iter(a["metrics"]))
        assert abs(a["metrics"][metric] - b["metrics"][metric]) <= tolerance, (a["metrics"], b["metrics"])
    from aiaas.registry import Registry

    registry = Registry(f"sqlite:///{home / 'registry.db'}", home / "artifacts")
    manifests = [json.loads((home / "artifacts" / registry.get(task, r["version"]).artifact_dir / "manifest.json").read_text()) for r in (a, b)]
    assert manifests[0]["rows"] == manifests[1]["rows"] and manifests[0]["split"] == manifests[1]["split"]
    assert not any("does not merge partial states" in n for n in manifests[0]["notes"])  # fitted on every training row

    from aiaas.plugins import get_host
    from aiaas.testing import isolated_home, ready_client, wait_for_version

    with isolated_home(home):  # serving it: loaded, its digests checked, its warm-up batch through the whole pipeline
        wait_for_version(ready_client(get_host(), Registry.from_settings()), task, a["version"])
