"""`aiaas serve --ray`: the same app on Ray Serve, each task's model in replicas that all
answer, and that follow promote."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from aiaas.registry import Registry
from aiaas.testing import isolated_home

from .test_workers import FRAUD, _free_port, _get, _predict, _settle, fraud_versions

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray")


def test_two_replicas_of_a_task_answer_and_follow_promote(tmp_path: Path) -> None:
    from ray import serve

    from aiaas.serving.rayserve import deploy

    home = fraud_versions(tmp_path)
    port = _free_port()
    with isolated_home(home, alias_ttl_seconds="0.2"):
        try:
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                     runtime_env={"env_vars": {"AIAAS_HOME": str(home), "AIAAS_ALIAS_TTL_SECONDS": "0.2"}})
            assert deploy(replicas=2, port=port, tasks=["finance/fraud"]) == ["finance/fraud"]
            deadline = time.monotonic() + 120
            while True:
                try:
                    _get(f"http://127.0.0.1:{port}/readyz")
                    break
                except (OSError, urllib.error.HTTPError):
                    assert time.monotonic() < deadline, "the Ray Serve app did not come up"
                    time.sleep(0.5)

            with ThreadPoolExecutor(8) as pool:  # concurrent calls: Ray's router spreads them over both replicas
                versions = list(pool.map(lambda i: _predict(port, {**FRAUD, "amount": 10.0 + i}), range(48)))
            assert set(versions) == {1}
            metrics = _get(f"http://127.0.0.1:{port}/metrics").decode()
            replicas = set(re.findall(r'aiaas_replica_calls_total\{replica="([^"]+)",task="finance/fraud"\}', metrics))
            assert len(replicas) == 2, metrics[-3000:]

            bad = urllib.request.Request(f"http://127.0.0.1:{port}/v1/finance/fraud/predict", headers={"content-type": "application/json"},
                                         data=json.dumps({"instances": [{**FRAUD, "amount": "lots"}]}).encode())
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(bad, timeout=30)
            assert refused.value.code == 422 and "amount" in refused.value.read().decode()

            Registry.from_settings().promote("finance/fraud", 2)
            _settle(port, 2)  # the HTTP side and both replicas load and warm version 2 in the background, then move
            with ThreadPoolExecutor(8) as pool:
                assert set(pool.map(lambda i: _predict(port), range(16))) == {2}
        finally:
            serve.shutdown()
            ray.shutdown()
