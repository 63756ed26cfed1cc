"""Version changes and cold starts under load: does a promote, a rollback or a canary drop a request
or make one wait?

    .venv/bin/python benchmarks/rollout.py [--seconds 30] [--connections 32] [--changes 10]

Two fraud versions are trained on 5,000 sample transactions in a temporary AIAAS_HOME: a Keras MLP
(TensorFlow, the slowest to load and warm) and LightGBM trees. ``aiaas serve`` runs pinned to core 0;
wrk (32 connections) and this script run on core 1.

- Start: the time from starting ``aiaas serve`` until ``/readyz`` says ready (every promoted version
  loaded and warmed; ``/healthz`` answers throughout), then the first fraud request's latency against
  the median of the next twenty (aim: no request waits on a load).
- Steady: wrk for ``--seconds`` with no version changes: non-2xx answers and p99; the same with the
  Keras version serving alone, to tell a slower model from a slower rollout.
- Rollout: wrk for the same time while this script promotes the Keras version and rolls back to the
  trees ``--changes`` times, then starts a canary of the Keras version and ends it: non-2xx answers
  (aim 0) and p99 against the steady run's (aim no more than 2x).

Needs wrk (`apt-get install wrk`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from overload import COUNTS_LUA
from serving_throughput import BIN, INSTANCE, _ms, free_port


def train(env: dict[str, str], folder: Path) -> dict[str, int]:
    """The Keras and the trees version of finance/fraud, trees in production; their version numbers."""
    data = folder / "tx.csv"
    subprocess.run([BIN / "aiaas", "sample", "finance/fraud", "--out", str(data), "--rows", "5000"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    versions = {}
    for name, flags in (("keras", ["--arch", "mlp", "--runtime", "tensorflow", "--epochs", "3"]), ("gbdt", ["--arch", "gbdt"])):
        done = subprocess.run([BIN / "aiaas", "train", "finance/fraud", "--data", str(data), *flags, "--json"], env=env, check=True,
                              capture_output=True, text=True)
        versions[name] = json.loads(done.stdout)["version"]
    subprocess.run([BIN / "aiaas", "promote", "finance/fraud", str(versions["gbdt"])], env=env, check=True, stdout=subprocess.DEVNULL)
    return versions


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def predict(url: str) -> tuple[int, float]:
    started = time.perf_counter()
    request = urllib.request.Request(url, data=json.dumps({"instances": [INSTANCE]}).encode(), headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    return status, (time.perf_counter() - started) * 1000


def wrk(url: str, script: Path, seconds: int, connections: int) -> tuple[float, dict[int, int]]:
    """(p99 ms, answers by status)."""
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    counts = {int(k): v for k, v in json.loads(re.search(r"STATUS (\{.*\})", out).group(1)).items()}  # type: ignore[union-attr]
    return p99, counts


def changes(env: dict[str, str], versions: dict[str, int], count: int, seconds: float, done: list[str]) -> None:
    """Promote Keras and roll back to the trees ``count`` times, then a canary of Keras and its end, spread over ``seconds``."""
    os.environ.update({k: v for k, v in env.items() if k.startswith("AIAAS_")})
    from aiaas.registry import Registry

    registry = Registry.from_settings()
    pause = seconds / (2 * count + 3)
    time.sleep(pause)
    for _ in range(count):
        registry.promote("finance/fraud", versions["keras"], actor="benchmark")
        done.append("promote keras")
        time.sleep(pause)
        registry.rollback("finance/fraud", actor="benchmark")
        done.append("rollback to trees")
        time.sleep(pause)
    registry.start_rollout("finance/fraud", versions["keras"], "canary", 50, actor="benchmark")
    done.append("canary of keras at 50%")
    time.sleep(pause)
    registry.rollback("finance/fraud", actor="benchmark")
    done.append("end the canary")


def steady_on(env: dict[str, str], version: int, url: str, script: Path, args: argparse.Namespace) -> tuple[float, dict[int, int]]:
    """wrk with ``version`` serving alone (promoted, warm, then rolled back to what served before)."""
    os.environ.update({k: v for k, v in env.items() if k.startswith("AIAAS_")})
    from aiaas.registry import Registry

    registry = Registry.from_settings()
    registry.promote("finance/fraud", version, actor="benchmark")
    base = url.split("/v1/")[0]
    while json.loads(urllib.request.urlopen(f"{base}/readyz/finance/fraud", timeout=5).read()).get("version") != version:
        time.sleep(0.1)
    wrk(url, script, 3, args.connections)
    try:
        return wrk(url, script, args.seconds, args.connections)
    finally:
        registry.rollback("finance/fraud", actor="benchmark")
        time.sleep(2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--changes", type=int, default=10)
    args = parser.parse_args()
    if not shutil.which("wrk") or not shutil.which("taskset"):
        raise SystemExit("needs wrk and taskset: apt-get install wrk util-linux")
    os.sched_setaffinity(0, {1})
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {**os.environ, "AIAAS_HOME": str(folder / "home"), "OMP_NUM_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1",
               "TF_NUM_INTRAOP_THREADS": "1", "AIAAS_MAX_QUEUE_SECONDS": "1e9", "AIAAS_MAX_QUEUE_ROWS": "1000000"}
        versions = train(env, folder)
        print(f"finance/fraud: Keras MLP is version {versions['keras']}, trees version {versions['gbdt']} (production)", flush=True)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        started = time.monotonic()
        server = subprocess.Popen(["taskset", "-c", "0", BIN / "aiaas", "serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            health = None
            while True:
                if server.poll() is not None:
                    raise SystemExit("the server exited before it was ready")
                try:
                    if health is None and get(f"{base}/healthz") == 200:
                        health = time.monotonic() - started
                    if get(f"{base}/readyz") == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.05)
            ready = time.monotonic() - started
            first = predict(f"{base}/v1/finance/fraud/predict")
            then = [predict(f"{base}/v1/finance/fraud/predict")[1] for _ in range(20)]
            print(f"start: /healthz answered after {health:.2f} s, ready after {ready:.2f} s; first request {first[1]:.1f} ms "
                  f"(status {first[0]}) against a median of {statistics.median(then):.1f} ms after it", flush=True)

            script = folder / "predict.lua"
            script.write_text(f'wrk.method = "POST"\nwrk.body = {json.dumps(json.dumps({"instances": [INSTANCE]}))}\n'
                              f'wrk.headers["Content-Type"] = "application/json"\n{COUNTS_LUA}')
            url = f"{base}/v1/finance/fraud/predict"
            wrk(url, script, 3, args.connections)  # warm-up
            steady_p99, steady = wrk(url, script, args.seconds, args.connections)
            done: list[str] = []
            changer = threading.Thread(target=changes, args=(env, versions, args.changes, args.seconds * 0.9, done))
            changer.start()
            rollout_p99, rolled = wrk(url, script, args.seconds, args.connections)  # the Keras version's first load is in here
            changer.join()
            keras_p99, keras = steady_on(env, versions["keras"], url, script, args)  # the slower version's own p99, for scale
        finally:
            server.terminate()
            server.wait(30)
    failed = lambda counts: sum(n for status, n in counts.items() if not 200 <= status < 300)  # noqa: E731
    print(f"steady:  {sum(steady.values()):7d} answers, {failed(steady)} not 2xx, p99 {steady_p99:.1f} ms")
    print(f"rollout: {sum(rolled.values()):7d} answers, {failed(rolled)} not 2xx, p99 {rollout_p99:.1f} ms "
          f"({len(done)} version changes: {args.changes} promotes and rollbacks between Keras and trees, a canary started and ended)")
    print(f"keras:   {sum(keras.values()):7d} answers, {failed(keras)} not 2xx, p99 {keras_p99:.1f} ms (the Keras version serving alone)")
    print(f"p99 rollout / steady: {rollout_p99 / steady_p99:.2f}x (aim at most 2x); against the slower version alone: "
          f"{rollout_p99 / max(steady_p99, keras_p99):.2f}x; non-2xx during the rollout: {failed(rolled)} (aim 0)")
    if sys.stdout.isatty():
        print(f"statuses: steady {steady}, rollout {rolled}")


if __name__ == "__main__":
    main()
