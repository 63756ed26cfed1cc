"""`aiaas serve --workers N`: several processes, each with its own batcher, that all pick up
promote and rollback, behind one /metrics."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from aiaas.plugins import get_host
from aiaas.records import resolve
from aiaas.registry import Registry
from aiaas.testing import isolated_home
from aiaas.training import TrainRequest, train

BIN = Path(sys.executable).parent
FRAUD = {"timestamp": "2026-03-14T02:13:00", "amount": 249.0, "merchant_category": "5732", "channel": "online", "country": "FR",
         "card_present": False}


def _settle(port: int, version: int, timeout: float = 60) -> int:
    """Wait until a dozen answers in a row come from ``version``; returns the requests it took."""
    deadline, sent, streak = time.monotonic() + timeout, 0, 0
    while streak < 12:
        assert time.monotonic() < deadline, f"the workers did not all move to version {version}"
        sent += 1
        streak = streak + 1 if _predict(port) == version else 0
        if not streak:
            time.sleep(0.1)
    return sent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def _predict(port: int, instance: dict | None = None) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/finance/fraud/predict",
                                     data=json.dumps({"instances": [instance or FRAUD]}).encode(), headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:  # a connection per request: the kernel spreads them over workers
        return json.loads(response.read())["model"]["version"]


def fraud_versions(tmp_path: Path) -> Path:
    """A home with two fraud versions (gradient-boosted trees, seconds to train): 1 in production, 2 beside it."""
    with isolated_home(tmp_path / "home") as home:
        host, registry = get_host(), Registry.from_settings()
        data = resolve(host.task("finance/fraud").sample)(tmp_path / "fraud.csv", 6000, 0)
        for promote in (True, False):
            train(host, registry, TrainRequest("finance/fraud", data, architecture="gbdt", promote=promote), quiet=True)
    return home


@pytest.mark.slow
def test_every_worker_serves_and_follows_promote_and_rollback(tmp_path: Path) -> None:
    home = fraud_versions(tmp_path)
    port = _free_port()
    env = {**os.environ, "AIAAS_HOME": str(home), "AIAAS_ALIAS_TTL_SECONDS": "0.2"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = subprocess.Popen([str(BIN / "aiaas"), "serve", "--port", str(port), "--workers", "2"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                _get(f"http://127.0.0.1:{port}/readyz")
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, server.stderr.read() if server.poll() is not None else "no answer"
                time.sleep(0.3)
        workers = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
        assert len(workers) >= 2, workers  # the supervisor's children: two workers (and multiprocessing's helper, maybe)

        assert {_predict(port) for _ in range(12)} == {1}
        with isolated_home(home):
            Registry.from_settings().promote("finance/fraud", 2)
        moved = _settle(port, 2)  # each worker loads and warms version 2 in the background, then moves
        assert {_predict(port) for _ in range(12)} == {2}  # every worker follows the alias
        with isolated_home(home):
            Registry.from_settings().rollback("finance/fraud")
        moved += _settle(port, 1)
        assert {_predict(port) for _ in range(12)} == {1}

        metrics = _get(f"http://127.0.0.1:{port}/metrics").decode()
        answered = sum(float(v) for v in re.findall(r'aiaas_requests_total\{[^}]*route="predict"[^}]*status="200"[^}]*\} (\S+)', metrics))
        assert answered == 36 + moved, metrics[:2000]  # whichever worker answers /metrics counts every worker's requests
    finally:
        server.terminate()
        server.wait(20)
