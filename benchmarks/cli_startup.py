"""How long `aiaas plugins` takes with the installed verticals, next to a bare interpreter.

    .venv/bin/python benchmarks/cli_startup.py [--runs 15]

Both commands run alternately in the same process run, so machine noise hits both;
the target is a median under 0.5 s for `aiaas plugins`.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 0.5


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    aiaas = shutil.which("aiaas", path=str(Path(sys.executable).parent)) or "aiaas"
    commands = {"aiaas plugins": [aiaas, "plugins"], "python -c pass (baseline)": [sys.executable, "-c", "pass"]}
    for command in commands.values():  # warm the file cache
        timed(command)
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, command in commands.items():
            samples[name].append(timed(command))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    for name, median in medians.items():
        print(f"{name:<28} median {median * 1000:7.1f} ms  (min {min(samples[name]) * 1000:.1f}, max {max(samples[name]) * 1000:.1f}, n={args.runs})")
    plugins, baseline = medians["aiaas plugins"], medians["python -c pass (baseline)"]
    print(f"ratio aiaas plugins / bare interpreter: {plugins / baseline:.1f}x")
    verdict = "meets" if plugins < TARGET_S else "MISSES"
    print(f"`aiaas plugins` {verdict} the {TARGET_S:.1f} s target ({plugins:.3f} s)")
    sys.exit(0 if plugins < TARGET_S else 1)


if __name__ == "__main__":
    main()
