"""Requests per second of POST /v1/finance/fraud/predict with and without batching,
next to the HTTP floor (GET /healthz), driven by wrk.

    .venv/bin/python benchmarks/serving_throughput.py [--seconds 10] [--connections 32] [--rounds 2]

The server runs pinned to core 0 and wrk to core 1 (taskset), one configuration at a
time, alternating rounds so that machine noise falls on all of them; medians are
reported with the ratio batched / unbatched. It trains a small fraud model in a
temporary AIAAS_HOME first. Needs wrk (`apt-get install wrk`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from fraud_model import train_fraud_model

BIN = Path(sys.executable).parent
INSTANCE = {"timestamp": "2026-03-14T02:13:00", "amount": 249.0, "merchant_category": "5732", "channel": "online",
            "country": "US", "card_present": False}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the server exited before answering")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the server did not come up")


def wrk(url: str, script: Path | None, seconds: int, connections: int) -> tuple[float, str]:
    command = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script:
        command[6:6] = ["-s", str(script)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+(\S+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"wrk saw {errors.group(1)} failed responses:\n{out}")
    return rps, p99.group(1) if p99 else "?"


def measure(home: Path, batch: int, seconds: int, connections: int, script: Path) -> dict[str, tuple[float, str]]:
    port = free_port()
    env = {**os.environ, "AIAAS_HOME": str(home), "AIAAS_BATCH_MAX_INSTANCES": str(batch), "OMP_NUM_THREADS": "1",
           "AIAAS_MAX_QUEUE_SECONDS": "1e9", "AIAAS_MAX_QUEUE_ROWS": "1000000"}  # batching alone: no shedding (see overload.py)
    server = subprocess.Popen(["taskset", "-c", "0", str(BIN / "aiaas"), "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_up(port, server)
        base = f"http://127.0.0.1:{port}"
        wrk(f"{base}/v1/finance/fraud/predict", script, 2, connections)  # warm-up
        return {"predict": wrk(f"{base}/v1/finance/fraud/predict", script, seconds, connections),
                "healthz": wrk(f"{base}/healthz", None, seconds, connections)}
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", default=None, help="the fraud model's architecture (default: the task's, auto)")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if not shutil.which("wrk") or not shutil.which("taskset"):
        raise SystemExit("needs wrk and taskset: apt-get install wrk util-linux")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = {**os.environ, "AIAAS_HOME": str(home)}
        served = train_fraud_model(env, Path(tmp), args.arch)
        print(f"serving finance/fraud: {served}", flush=True)
        script = Path(tmp) / "post.lua"
        body = json.dumps({"instances": [INSTANCE]})
        script.write_text(f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\nwrk.headers["Content-Type"] = "application/json"\n')
        results: dict[str, list[tuple[float, str]]] = {}
        for _ in range(args.rounds):
            for label, batch in (("unbatched", 1), ("batched", 256)):
                for kind, value in measure(home, batch, args.seconds, args.connections, script).items():
                    results.setdefault(f"{kind} ({label})" if kind == "predict" else f"healthz (HTTP floor, {label} server)", []).append(value)
    print(f"wrk -t1 -c{args.connections} -d{args.seconds}s, server on core 0, wrk on core 1, {args.rounds} alternating rounds")
    medians = {name: statistics.median(r for r, _ in values) for name, values in results.items()}
    for name, values in results.items():
        print(f"{name:<42} {medians[name]:9.1f} req/s   p99 {values[-1][1]}")
    batched, unbatched = medians["predict (batched)"], medians["predict (unbatched)"]
    floor = statistics.median([medians[n] for n in medians if n.startswith("healthz")])
    print(f"ratio batched / unbatched predict: {batched / unbatched:.2f}x")
    print(f"batched predict as a share of the HTTP floor: {batched / floor:.2f}")


if __name__ == "__main__":
    main()
