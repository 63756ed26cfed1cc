"""The artifact store on S3 (``AIAAS_ARTIFACTS=s3://...``), against a real S3 API: moto's server,
started by the test on a local port."""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("moto.server")
pytest.importorskip("boto3")

from aiaas.testing import isolated_home  # noqa: E402

from .test_out_of_core import _transactions  # noqa: E402


@contextmanager
def moto_bucket() -> Iterator[tuple[str, Any]]:
    """An S3 API on loopback (moto's server) with an empty bucket, its credentials in the environment (so
    processes started in the block reach it too); yields the store's URI and a boto3 client of it."""
    import boto3
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1")
        client.create_bucket(Bucket="models")
        yield f"s3://models/aiaas?endpoint_override=127.0.0.1:{port}&scheme=http&region=us-east-1", client
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def bucket() -> Iterator[tuple[str, Any]]:
    with moto_bucket() as found:
        yield found


def test_a_version_lives_in_the_bucket_and_a_changed_file_there_is_refused(tmp_path: Path, bucket: tuple[str, Any]) -> None:
    """Registered: every file is in the bucket before the row exists. A server with an empty cache
    fetches the version and answers; a file changed in the bucket is refused by its digest."""
    from aiaas.integrity import ArtifactDamaged
    from aiaas.plugins import get_host
    from aiaas.registry import Registry
    from aiaas.testing import ready_client
    from aiaas.training import TrainRequest, train
    from aiaas.versions import load_version

    uri, client = bucket
    data = tmp_path / "tx.csv"
    frame = _transactions(1500, seed=5)
    frame.to_csv(data, index=False)
    with isolated_home(tmp_path / "home", artifacts=uri):
        registry = Registry.from_settings()
        assert registry.store is not None
        result = train(get_host(), registry, TrainRequest("finance/fraud", data, architecture="gbdt", params={"rounds": 30}, promote=True, force=True),
                       quiet=True)
        row = result.version
        keys = {o["Key"] for o in client.list_objects_v2(Bucket="models", Prefix=f"aiaas/{row.artifact_dir}/")["Contents"]}
        manifest = json.loads((registry.folder(row) / "manifest.json").read_text())
        assert {f"aiaas/{row.artifact_dir}/{name}" for name in [*manifest["files"], "manifest.json"]} == keys

        shutil.rmtree(registry.artifacts)  # another machine: nothing cached
        client_app = ready_client(get_host(), Registry.from_settings())
        instance = json.loads(frame.drop(columns=["is_fraud", "transaction_id"]).iloc[:1].to_json(orient="records", date_format="iso"))
        answer = client_app.post("/v1/finance/fraud/predict", json={"instances": instance})
        assert answer.status_code == 200, answer.text
        assert (registry.artifacts / row.artifact_dir / "manifest.json").is_file()  # serving filled the cache from the bucket

        client.put_object(Bucket="models", Key=f"aiaas/{row.artifact_dir}/model.txt", Body=b"tree\n")
        shutil.rmtree(registry.artifacts)
        with pytest.raises(ArtifactDamaged, match="model.txt"):
            load_version(get_host(), Registry.from_settings(), "finance/fraud", row.version)


def test_a_store_that_cannot_be_reached_is_one_clear_error(tmp_path: Path) -> None:
    from aiaas.errors import UserError
    from aiaas.store import ObjectStore

    with pytest.raises(UserError, match="AIAAS_ARTIFACTS=nowhere://x"):
        ObjectStore("nowhere://x")
