"""Throughput of ``aiaas serve --ray`` with 1 and 2 model replicas of the fraud task, driven by wrk.

    .venv/bin/python benchmarks/ray_scaling.py [--seconds 15] [--connections 32] [--replicas 1,2]

Each run starts ``aiaas serve --ray --replicas N`` (a local Ray instance: the HTTP proxy, the
aiaas app and N replicas per task) with a torch MLP trained on 5,000 sample transactions,
then wrk (pinned to the last core) posts one transaction per request with an API key. This
machine has 2 cores, so Ray's proxy, the app and the replicas share them: the figures show
what replicas cost and add here, not what a cluster of larger nodes gives. Prints req/s, p50
and p99 per replica count and the ratio to one replica.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from fraud_model import train_fraud_model
from serving_throughput import BIN, INSTANCE, free_port, post_script, wrk


def answered(url: str, script: Path, server: subprocess.Popen[bytes]) -> None:
    """Wait until the fraud route answers 200 (Ray's proxy answers before the app is deployed)."""
    body, key = re.search(r"wrk.body = (.*)", script.read_text()).group(1), re.search(r"Bearer ([^\"]+)", script.read_text()).group(1)  # type: ignore[union-attr]
    request = urllib.request.Request(url, data=json.loads(body).encode(), headers={"content-type": "application/json", "authorization": f"Bearer {key}"})
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("aiaas serve --ray exited before answering")
        try:
            with urllib.request.urlopen(request, timeout=10):
                return
        except OSError:
            time.sleep(1)
    raise SystemExit("the fraud route did not answer within 5 minutes")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--replicas", default="1,2")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {**os.environ, "AIAAS_HOME": str(folder / "home"), "OMP_NUM_THREADS": "1"}
        served = train_fraud_model(env, folder, "mlp", "torch")
        made = subprocess.run([BIN / "aiaas", "keys", "create", "--name", "bench", "--scope", "finance"], env=env, check=True,
                              capture_output=True, text=True).stdout
        script = post_script(folder, "aiaas", {"instances": [INSTANCE]}, made.strip().splitlines()[-1])
        for replicas in (int(r) for r in args.replicas.split(",")):
            port = free_port()
            server = subprocess.Popen([BIN / "aiaas", "serve", "--ray", "--replicas", str(replicas), "--port", str(port)], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                url = f"http://127.0.0.1:{port}/v1/finance/fraud/predict"
                answered(url, script, server)
                time.sleep(5)  # every replica up, not only the first
                wrk(url, script, 3, args.connections)  # warm-up
                results[replicas] = wrk(url, script, args.seconds, args.connections)
                rps, p50, p99 = results[replicas]
                print(f"{replicas} replica(s): {rps:.1f} req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms", flush=True)
            finally:
                server.send_signal(signal.SIGINT)
                try:
                    server.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    server.kill()
                subprocess.run([BIN / "ray", "stop", "--force"], capture_output=True)
    first = results[min(results)][0]
    print(f"\n{served}, wrk -c{args.connections} -d{args.seconds}s on a {os.cpu_count()}-core machine")
    for replicas, (rps, p50, p99) in results.items():
        print(f"| {replicas} | {rps:.0f} req/s | p50 {p50:.1f} ms | p99 {p99:.1f} ms | {rps / first:.2f}x |")


if __name__ == "__main__":
    main()
