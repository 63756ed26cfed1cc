"""The fraud route under load far past what it can serve: does it shed, stay fast for
what it admits, keep its memory flat and recover at once?

    .venv/bin/python benchmarks/overload.py [--seconds 60] [--connections 512] [--max-queue-seconds S] [--batch N]
        [--latency-targets default,0]

Each latency target is a server of its own, side by side in one run: by default the server's own
(adaptive admission at ``AIAAS_LATENCY_TARGET_SECONDS``, 0.1 s) and 0 (adaptive admission off: only
the queue's row and seconds caps shed).

The server runs pinned to core 0 and wrk to core 1. First wrk at 32 connections
measures saturation (the most it answers per second). Then wrk opens many more
connections for ``--seconds``. wrk keeps every connection busy, so requests shed at
once come back for more, and the offered rate climbs well past saturation; the
multiple is reported. Latency of admitted requests comes from the server's own JSON
access log, which has each request's status and milliseconds. Memory is the server's
resident set size, sampled while ``/healthz`` is probed about four times a second. Recovery is the time from the end of
the overload until a lone request is answered within twice its unloaded latency.
Aims: p99 of admitted requests under 100 ms, memory flat, recovery within a second.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from fraud_model import train_fraud_model

from serving_throughput import BIN, INSTANCE, free_port, wait_up

COUNTS_LUA = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) counts = {} end
function response(status, headers, body) counts[status] = (counts[status] or 0) + 1 end
function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("counts")) do total[status] = (total[status] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(total) do parts[#parts + 1] = string.format('"%d": %d', status, n) end
  io.write("STATUS {" .. table.concat(parts, ", ") .. "}\\n")
end
"""

def rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", text).group(1)) / 1024  # type: ignore[union-attr]


def wrk(url: str, script: Path, seconds: int, connections: int) -> tuple[float, dict[int, int]]:
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    counts = {int(k): v for k, v in json.loads(re.search(r"STATUS (\{.*\})", out).group(1)).items()}  # type: ignore[union-attr]
    return rps, counts


def one_request(url: str, body: bytes) -> tuple[int, float]:
    started = time.perf_counter()
    request = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    return status, time.perf_counter() - started


def flood(args: argparse.Namespace, tmp: Path, env: dict[str, str], label: str) -> None:
    """One server under one setting: saturation, then the flood, then recovery; prints what it found."""
    body = json.dumps({"instances": [INSTANCE]})
    script = Path(tmp) / "post.lua"
    script.write_text(f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\nwrk.headers["Content-Type"] = "application/json"\n' + COUNTS_LUA)
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1/finance/fraud/predict"
    log_path = Path(tmp) / "access.log"
    errors_path = Path(tmp) / "server.err"
    with open(log_path, "w") as log, open(errors_path, "w") as errors:
        server = subprocess.Popen(["taskset", "-c", "0", str(BIN / "aiaas"), "serve", "--port", str(port)], env=env, stdout=log,
                                  stderr=errors)
    try:
        wait_up(port, server)
        wrk(url, script, 3, 32)  # warm-up
        time.sleep(2)  # let the warm-up's last requests drain
        quiet = statistics.median(seconds for status, seconds in (one_request(url, body.encode()) for _ in range(20)) if status == 200)
        _, at_saturation = wrk(url, script, 10, 32)
        saturation = at_saturation.get(200, 0) / 10  # answered, not refused
        before = rss_mb(server.pid)
        marker = log_path.stat().st_size
        peak, stop, health = [before], threading.Event(), []

        def sample() -> None:
            while not stop.is_set():
                peak.append(rss_mb(server.pid))
                started = time.perf_counter()
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10):
                        health.append(time.perf_counter() - started)
                except OSError:
                    health.append(float("inf"))
                time.sleep(0.25)

        sampler = threading.Thread(target=sample)
        sampler.start()
        offered, counts = wrk(url, script, args.seconds, args.connections)
        ended = time.perf_counter()
        recovered, last = None, (0, 0.0)
        while recovered is None and time.perf_counter() - ended < 30:
            last = status, seconds = one_request(url, body.encode())
            if status == 200 and seconds <= 2 * quiet + 0.005:
                recovered = time.perf_counter() - ended
        stop.set()
        sampler.join()
        time.sleep(1)
        after = rss_mb(server.pid)
        with open(log_path) as f:
            f.seek(marker)
            logged = [json.loads(x) for x in f if x.startswith("{")]
        admitted_ms = sorted(line["ms"] for line in logged if line["status"] == 200 and line["path"].endswith("/predict"))
        server_side = {}
        for line in logged:
            server_side[line["status"]] = server_side.get(line["status"], 0) + 1
        tracebacks = errors_path.read_text().count("Traceback")
    finally:
        server.terminate()
        server.wait(timeout=30)
    total = sum(counts.values())
    shed = counts.get(503, 0) + counts.get(429, 0)
    p99 = admitted_ms[int(0.99 * (len(admitted_ms) - 1))] if admitted_ms else float("nan")
    print(f"server on core 0, wrk on core 1; a lone request takes {quiet * 1000:.1f} ms unloaded; queue "
          f"{env.get('AIAAS_MAX_QUEUE_SECONDS', 'default')} s, batch {env.get('AIAAS_BATCH_MAX_INSTANCES', 'default')}, "
          f"latency target {label}")
    print(f"saturation (wrk -c32): {saturation:.0f} answered req/s ({sum(at_saturation.values()) / 10 - saturation:.0f} req/s shed)")
    print(f"overload (wrk -c{args.connections}, {args.seconds} s): offered {offered:.0f} req/s = {offered / saturation:.1f}x saturation")
    print(f"  admitted: {counts.get(200, 0) / args.seconds:.0f} req/s ({counts.get(200, 0) / args.seconds / saturation:.2f} of saturation)")
    print(f"  p99 of admitted requests (server side): {p99:.1f} ms; median {statistics.median(admitted_ms):.1f} ms")
    print(f"  shed with 429/503: {shed / total:.1%} of {total} requests; other statuses: "
          f"{ {k: v for k, v in counts.items() if k not in (200, 429, 503)} or 'none'}")
    print(f"  the server's own log: {len(logged)} requests logged; clients gone before their answer (499): {server_side.get(499, 0)}; "
          f"server errors (5xx but 503): {sum(n for s, n in server_side.items() if s >= 500 and s != 503)}; tracebacks: {tracebacks}")
    probes = sorted(health)
    print(f"  /healthz during the overload: median {statistics.median(probes) * 1000:.1f} ms, worst {probes[-1] * 1000:.1f} ms "
          f"({len(probes)} probes)")
    print(f"  memory: {before:.0f} MB before, peak {max(peak):.0f} MB, {after:.0f} MB after")
    print(f"  recovery: {'%.3f s' % recovered if recovered is not None else 'not within 30 s'} to answer a lone request "
          f"within twice its unloaded latency (last: status {last[0]}, {last[1] * 1000:.1f} ms)")



def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", default=None, help="the fraud model's architecture (default: the task's, auto)")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=512)
    parser.add_argument("--max-queue-seconds", type=float, default=None, help="AIAAS_MAX_QUEUE_SECONDS for the server (default: its own)")
    parser.add_argument("--batch", type=int, default=None, help="AIAAS_BATCH_MAX_INSTANCES for the server (default: its own)")
    parser.add_argument("--latency-targets", default="default,0",
                        help="AIAAS_LATENCY_TARGET_SECONDS of each run, side by side (default: the server's own, then 0: adaptive admission off)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = {**os.environ, "AIAAS_HOME": str(home), "OMP_NUM_THREADS": "1",
               **({"AIAAS_MAX_QUEUE_SECONDS": str(args.max_queue_seconds)} if args.max_queue_seconds is not None else {}),
               **({"AIAAS_BATCH_MAX_INSTANCES": str(args.batch)} if args.batch is not None else {})}
        served = train_fraud_model(env, Path(tmp), args.arch)
        print(f"serving finance/fraud: {served}", flush=True)
        for target in args.latency_targets.split(","):
            print(f"\n== latency target: {target}", flush=True)
            flood(args, Path(tmp), {**env, **({"AIAAS_LATENCY_TARGET_SECONDS": target} if target != "default" else {})}, target)


if __name__ == "__main__":
    main()
