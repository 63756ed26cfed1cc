"""One fraud transaction per request, three servers side by side, driven by wrk:

- the HTTP floor: a FastAPI endpoint that parses the transaction and answers, no model;
- hand-written: a FastAPI endpoint that parses, encodes and runs one torch forward per
  request, on the same model's weights and encoding (``handwritten_server.py``);
- aiaas: ``POST /v1/finance/fraud/predict`` with everything on: an API key, strict JSON,
  input checks, reason codes, the prediction log, metrics and the access log.

    .venv/bin/python benchmarks/serving_throughput.py [--seconds 10] [--connections 1,8,32,64] [--arch mlp --runtime torch]

Each server runs pinned to core 0 (torch on one thread) and wrk to core 1 (taskset), one
at a time, at each connection count; throughput, p50 and p99 come from wrk. Prints the
ratios aiaas / hand-written and aiaas / floor, and the latency aiaas adds at one connection.
Aims: at 32 connections at least 2x the hand-written endpoint and 0.6 of the floor, p99
under 30 ms; at one connection no more than 1 ms added. The model is a torch MLP trained
on 5,000 sample transactions in a temporary AIAAS_HOME. Needs wrk (`apt-get install wrk`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from fraud_model import train_fraud_model

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
INSTANCE = {"timestamp": "2026-03-14T02:13:00", "amount": 249.0, "merchant_category": "5732", "channel": "online",
            "country": "FR", "card_present": False}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(port: int, server: subprocess.Popen[bytes], path: str = "/readyz") -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the server exited before answering")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5):
                return
        except urllib.error.HTTPError as exc:
            if path == "/readyz" and exc.code == 503:  # up, still loading and warming its versions
                time.sleep(0.3)
                continue
            return  # it answers
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the server did not come up")


def _ms(text: str) -> float:
    found = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    if not found:
        raise SystemExit(f"cannot read wrk's latency {text!r}")
    value, unit = found.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def wrk(url: str, script: Path | None, seconds: int, connections: int) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms)."""
    command = ["taskset", "-c", str((os.cpu_count() or 2) - 1), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script:
        command[6:6] = ["-s", str(script)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"wrk saw {errors.group(1)} failed responses:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    percentile = {p: _ms(re.search(rf"^\s+{p}%\s+(\S+)", out, re.M).group(1)) for p in (50, 99)}  # type: ignore[union-attr]
    return rps, percentile[50], percentile[99]


def post_script(folder: Path, name: str, body: dict, key: str | None = None) -> Path:
    script = folder / f"{name}.lua"
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(json.dumps(body))}", 'wrk.headers["Content-Type"] = "application/json"']
    if key:
        lines.append(f'wrk.headers["Authorization"] = "Bearer {key}"')
    script.write_text("\n".join(lines) + "\n")
    return script


def serve(command: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    server = subprocess.Popen(["taskset", "-c", "0", *[c.replace("PORT", str(port)) for c in command]], env=env, cwd=cwd,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return server, port


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", default="mlp")
    parser.add_argument("--runtime", default="torch")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", default="1,8,32,64")
    args = parser.parse_args()
    if not shutil.which("wrk") or not shutil.which("taskset"):
        raise SystemExit("needs wrk and taskset: apt-get install wrk util-linux")
    levels = [int(c) for c in args.connections.split(",")]
    results: dict[str, dict[int, tuple[float, float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {**os.environ, "AIAAS_HOME": str(folder / "home"), "OMP_NUM_THREADS": "1"}
        served = train_fraud_model(env, folder, args.arch, args.runtime)
        print(f"serving finance/fraud: {served}", flush=True)
        made = subprocess.run([BIN / "aiaas", "keys", "create", "--name", "bench", "--scope", "finance"], env=env, check=True,
                              capture_output=True, text=True).stdout
        key = made.strip().splitlines()[-1]
        model_dir = next((folder / "home" / "artifacts" / "finance__fraud").iterdir())
        servers = {
            "floor": (["python", "-m", "uvicorn", "handwritten_server:app", "--port", "PORT", "--http", "httptools", "--loop", "uvloop",
                       "--no-access-log", "--log-level", "warning"], "/floor", post_script(folder, "plain", INSTANCE)),
            "hand-written": (None, "/predict", post_script(folder, "plain", INSTANCE)),
            "aiaas": ([str(BIN / "aiaas"), "serve", "--port", "PORT"], "/v1/finance/fraud/predict",
                      post_script(folder, "aiaas", {"instances": [INSTANCE]}, key)),
        }
        servers["hand-written"] = (servers["floor"][0], *servers["hand-written"][1:])
        extra = {"MODEL_DIR": str(model_dir), "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
                 "AIAAS_MAX_QUEUE_SECONDS": "1e9", "AIAAS_MAX_QUEUE_ROWS": "1000000"}  # every request answered: no shedding
        for name, (command, path, script) in servers.items():
            server, port = serve(command, {**env, **extra}, HERE if name != "aiaas" else None)  # type: ignore[arg-type]
            try:
                wait_up(port, server, "/readyz" if name == "aiaas" else "/docs")
                url = f"http://127.0.0.1:{port}{path}"
                wrk(url, script, 2, 8)  # warm-up
                for c in levels:
                    results.setdefault(name, {})[c] = wrk(url, script, args.seconds, c)
                    rps, p50, p99 = results[name][c]
                    print(f"{name:<13} c={c:<3} {rps:8.1f} req/s  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms", flush=True)
            finally:
                server.terminate()
                server.wait(timeout=30)
    print(f"\nwrk -t1 -d{args.seconds}s; server on core 0, wrk on core 1; {served}")
    print("| connections | floor req/s (p50 / p99 ms) | hand-written | aiaas | aiaas / hand-written | aiaas / floor |")
    print("| --- | --- | --- | --- | --- | --- |")
    for c in levels:
        cells = [f"{results[n][c][0]:.0f} ({results[n][c][1]:.2f} / {results[n][c][2]:.2f})" for n in ("floor", "hand-written", "aiaas")]
        print(f"| {c} | {' | '.join(cells)} | {results['aiaas'][c][0] / results['hand-written'][c][0]:.2f}x | "
              f"{results['aiaas'][c][0] / results['floor'][c][0]:.2f} |")
    if 1 in levels:
        print(f"latency aiaas adds at one connection (p50): {results['aiaas'][1][1] - results['hand-written'][1][1]:+.2f} ms")


if __name__ == "__main__":
    main()
