"""One fraud transaction per request, aiaas side by side with what people would pick instead,
every server on the same torch MLP (the same weights and encoding), driven by wrk:

- floor: a FastAPI endpoint that parses the JSON and answers, no model (``handwritten_server.py``);
- hand-written: a FastAPI endpoint that parses, encodes and runs one torch forward per request;
- LitServe (batches of up to 32, 2 ms), BentoML (adaptive batching, up to 32), Ray Serve
  (``@serve.batch``, 32, 2 ms): ``peers/``, run from the ``.peers`` virtual environment;
- aiaas: ``POST /v1/finance/fraud/predict`` with everything on: an API key, strict JSON, input
  checks, reason codes, the prediction log, metrics and the access log;
- aiaas V2: the same server's ``/v2/models/finance/fraud/infer`` (one JSON tensor per field), and
  aiaas gRPC: the same protocol on ``--grpc-port``, driven by ``grpc_load.py`` (Python: a floor on
  what the server answers), since wrk speaks only HTTP/1.1.

    .venv/bin/python benchmarks/serving_throughput.py [--columns 6,30,300] [--connections 1,8,32,64] [--seconds 10]
        [--servers floor,hand-written,litserve,bentoml,ray-serve,aiaas,aiaas-v2,aiaas-grpc] [--workers-scaling]

``--columns``: the fields a request carries: the sample's 6, or 6 plus a domain team's own numeric
columns (a model is trained for each width). Each server runs pinned to core 0 (torch on one
thread) and wrk to the last core (taskset), one at a time. Prints a table per width (req/s, p50,
p99 at each connection count) and the ratios the aims are stated in: aiaas / best peer and aiaas /
floor at 32 connections, and the latency aiaas adds at one connection over the hand-written
endpoint. ``--workers-scaling``: aiaas at 32 connections with ``--workers 1`` on core 0 and
``--workers 2`` on both cores (wrk shares the second), as a ratio. Needs wrk and taskset
(``apt-get install wrk``) and, for the peers, ``make peers`` (a ``.peers`` venv with torch,
litserve, bentoml and ray[serve]). Admission control is off (``AIAAS_LATENCY_TARGET_SECONDS=0``)
so every request is answered, as the peers answer every request; ``overload.py`` measures it.
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
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from fraud_model import train_fraud_model

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
PEERS = HERE.parent / ".peers" / "bin"
INSTANCE = {"timestamp": "2026-03-14T02:13:00", "amount": 249.0, "merchant_category": "5732", "channel": "online",
            "country": "FR", "card_present": False}
PEER_NAMES = ("litserve", "bentoml", "ray-serve")
DERIVED = 8
"""The finance plugin's history features (customer counts and averages): a version trained on a team's own columns takes them as fields."""
ORDER = ("floor", "hand-written", *PEER_NAMES, "aiaas", "aiaas-v2", "aiaas-grpc")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(port: int, server: subprocess.Popen[bytes], path: str = "/readyz") -> None:
    """Until ``path`` answers (a 503 from aiaas's /readyz: still warming)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the server exited before answering")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5):
                return
        except urllib.error.HTTPError as exc:
            if path == "/readyz" and exc.code == 503:
                time.sleep(0.3)
                continue
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the server did not come up")


def wait_answers(url: str, body: dict, headers: dict[str, str], server: subprocess.Popen[bytes], seconds: float = 240) -> None:
    """Until the benchmark's own request gets a 200 (peers have no common readiness route)."""
    deadline = time.monotonic() + seconds
    data = json.dumps(body).encode()
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server behind {url} exited before answering")
        try:
            request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **headers})
            with urllib.request.urlopen(request, timeout=5) as answer:
                if answer.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} did not answer within {seconds:.0f} s")


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


def serve(command: list[str], env: dict[str, str], cwd: Path | None = None, cores: str = "0") -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    server = subprocess.Popen(["taskset", "-c", cores, *[c.replace("PORT", str(port)) for c in command]], env={**env, "PORT": str(port)},
                              cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    return server, port


def stop(server: subprocess.Popen[bytes]) -> None:
    """The server and every process it started (BentoML's and LitServe's workers, Ray's actors)."""
    import signal

    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            return
        try:
            server.wait(timeout=wait)
            time.sleep(1)
            return
        except subprocess.TimeoutExpired:
            continue


def v2_body(instance: dict[str, Any]) -> dict[str, Any]:
    kinds = {bool: "BOOL", float: "FP64", int: "INT64", str: "BYTES"}
    return {"inputs": [{"name": k, "shape": [1], "datatype": kinds[type(v)], "data": [v]} for k, v in instance.items()]}


def measure_width(args: argparse.Namespace, signals: int, folder: Path, levels: list[int], wanted: list[str]) -> tuple[str, dict]:
    env = {**os.environ, "AIAAS_HOME": str(folder / "home"), "OMP_NUM_THREADS": "1", "AIAAS_SMALL_DATA_ROWS": "0"}
    served = train_fraud_model(env, folder, args.arch, args.runtime, signals)
    model_dir = next((folder / "home" / "artifacts" / "finance__fraud").iterdir())
    instance = dict(INSTANCE)
    for column in json.loads((model_dir / "preprocessor.json").read_text())["columns"]:  # every field the version takes
        if column["kind"] in ("numeric", "log") and column["name"] not in instance:
            instance[column["name"]] = round(float(column["median"]), 4)
    made = subprocess.run([BIN / "aiaas", "keys", "create", "--name", "bench", "--scope", "finance"], env=env, check=True,
                          capture_output=True, text=True).stdout
    key = made.strip().splitlines()[-1]
    extra = {"MODEL_DIR": str(model_dir), "PATH": f"{BIN}:{os.environ.get('PATH', '')}", "AIAAS_MAX_QUEUE_SECONDS": "1e9",
             "AIAAS_MAX_QUEUE_ROWS": "1000000", "AIAAS_LATENCY_TARGET_SECONDS": "0"}  # every request answered: no shedding
    uvicorn = ["python", "-m", "uvicorn", "handwritten_server:app", "--port", "PORT", "--http", "httptools", "--loop", "uvloop",
               "--no-access-log", "--log-level", "warning"]
    grpc_port = free_port()
    servers: dict[str, tuple[list[str], str, dict, str | None]] = {  # command, path, body, key
        "floor": (uvicorn, "/floor", instance, None),
        "hand-written": (uvicorn, "/predict", instance, None),
        "litserve": ([str(PEERS / "python"), "peers/litserve_server.py"], "/predict", instance, None),
        "bentoml": ([str(PEERS / "bentoml"), "serve", "peers.bentoml_service:Fraud", "--port", "PORT"], "/predict", {"txs": [instance]}, None),
        "ray-serve": ([str(PEERS / "python"), "peers/rayserve_app.py"], "/predict", instance, None),
        "aiaas": ([str(BIN / "aiaas"), "serve", "--port", "PORT", "--grpc-port", str(grpc_port)], "/v1/finance/fraud/predict",
                  {"instances": [instance]}, key),
    }
    results: dict[str, dict[int, tuple[float, float, float]]] = {}
    for name, (command, path, body, secret) in servers.items():
        also = [n for n in ("aiaas-v2", "aiaas-grpc") if name == "aiaas" and n in wanted]
        if name not in wanted and not also:
            continue
        if name in PEER_NAMES and not (PEERS / "python").exists():
            print(f"{name}: skipped, no .peers venv (make peers)", flush=True)
            continue
        server, port = serve(command, {**env, **extra}, HERE if name != "aiaas" else None)
        try:
            headers = {"Authorization": f"Bearer {secret}"} if secret else {}
            url = f"http://127.0.0.1:{port}{path}"
            wait_answers(url, body, headers, server)
            runs = ([(name, url, post_script(folder, name, body, secret))] if name in wanted else [])
            if "aiaas-v2" in also:
                runs.append(("aiaas-v2", f"http://127.0.0.1:{port}/v2/models/finance/fraud/infer", post_script(folder, "v2", v2_body(instance), key)))
            for label, target, script in runs:
                wrk(target, script, 2, 8)  # warm-up
                for c in levels:
                    results.setdefault(label, {})[c] = wrk(target, script, args.seconds, c)
                    report(label, c, results[label][c])
            if "aiaas-grpc" in also:
                for c in levels:
                    out = subprocess.run(["taskset", "-c", str((os.cpu_count() or 2) - 1), sys.executable, str(HERE / "grpc_load.py"),
                                          "--target", f"127.0.0.1:{grpc_port}", "--model", "finance/fraud", "--instance", json.dumps(instance),
                                          "--key", key, "--connections", str(c), "--seconds", str(args.seconds)],
                                         capture_output=True, text=True, check=True).stdout
                    found = json.loads(out.strip().splitlines()[-1])
                    results.setdefault("aiaas-grpc", {})[c] = (found["rps"], found["p50"], found["p99"])
                    report("aiaas-grpc", c, results["aiaas-grpc"][c])
            if name == "aiaas" and args.workers_scaling:
                stop(server)
                scaling = {}
                for workers, cores in ((1, "0"), (2, "0,1")):
                    server, port = serve([str(BIN / "aiaas"), "serve", "--port", "PORT", "--workers", str(workers)], {**env, **extra}, cores=cores)
                    url = f"http://127.0.0.1:{port}{path}"
                    wait_answers(url, body, headers, server)
                    wrk(url, runs[0][2], 2, 8)
                    scaling[workers] = wrk(url, runs[0][2], args.seconds, 32)[0]
                    stop(server)
                print(f"aiaas --workers 2 / --workers 1 at 32 connections: {scaling[2]:.0f} / {scaling[1]:.0f} req/s = "
                      f"{scaling[2] / scaling[1]:.2f}x (2 workers on both cores, wrk sharing the second)", flush=True)
        finally:
            stop(server)
    return served, results


def report(name: str, c: int, result: tuple[float, float, float]) -> None:
    rps, p50, p99 = result
    print(f"{name:<13} c={c:<3} {rps:8.1f} req/s  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms", flush=True)


def table(served: str, fields: int, results: dict, levels: list[int], seconds: int) -> None:
    print(f"\n{fields} fields a request; {served}; wrk -t1 -d{seconds}s; server on core 0, load on core {(os.cpu_count() or 2) - 1}")
    print("| server | " + " | ".join(f"c={c} req/s (p50 / p99 ms)" for c in levels) + " |")
    print("| --- |" + " --- |" * len(levels))
    for name in ORDER:
        if name in results:
            print(f"| {name} | " + " | ".join(f"{results[name][c][0]:,.0f} ({results[name][c][1]:.2f} / {results[name][c][2]:.2f})"
                                             for c in levels) + " |")
    if "aiaas" not in results:
        return
    at = 32 if 32 in levels else levels[-1]
    ours = results["aiaas"][at][0]
    peers = {n: results[n][at][0] for n in PEER_NAMES if n in results}
    if peers:
        best = max(peers, key=peers.get)  # type: ignore[arg-type]
        print(f"aiaas / best peer ({best}) at c={at}: {ours / peers[best]:.2f}x")
    for other in ("floor", "hand-written"):
        if other in results:
            print(f"aiaas / {other} at c={at}: {ours / results[other][at][0]:.2f}x")
    if 1 in levels and "hand-written" in results:
        print(f"latency aiaas adds at one connection (p50): {results['aiaas'][1][1] - results['hand-written'][1][1]:+.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", default="mlp")
    parser.add_argument("--runtime", default="torch")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", default="1,8,32,64")
    parser.add_argument("--columns", default="30", help="fields a request carries, comma-separated: 6 (the sample's) or more")
    parser.add_argument("--servers", default=",".join(ORDER))
    parser.add_argument("--workers-scaling", action="store_true")
    args = parser.parse_args()
    if not shutil.which("wrk") or not shutil.which("taskset"):
        raise SystemExit("needs wrk and taskset: apt-get install wrk util-linux")
    levels = [int(c) for c in args.connections.split(",")]
    wanted = [s.strip() for s in args.servers.split(",")]
    unknown = set(wanted) - set(ORDER)
    if unknown:
        raise SystemExit(f"--servers: no server {', '.join(sorted(unknown))}; they are {', '.join(ORDER)}")
    tables = []
    for fields in (int(c) for c in args.columns.split(",")):
        if fields != len(INSTANCE) and fields < len(INSTANCE) + DERIVED + 1:
            raise SystemExit(f"--columns {fields}: the sample's {len(INSTANCE)}, or more than {len(INSTANCE) + DERIVED} (its history features too)")
        with tempfile.TemporaryDirectory() as tmp:
            # past the sample's own fields, a version also takes the plugin's 8 derived history features as fields
            served, results = measure_width(args, max(0, fields - len(INSTANCE) - DERIVED), Path(tmp), levels, wanted)
        tables.append((served, fields, results))
    for served, fields, results in tables:
        table(served, fields, results, levels, args.seconds)


if __name__ == "__main__":
    main()
