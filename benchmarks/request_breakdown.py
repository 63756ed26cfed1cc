"""Where a lone fraud request's time goes inside aiaas, step by step, in process (no HTTP), beside
the hand-written endpoint's whole work on the same model (``torch_fraud``: encode and one forward).

    .venv/bin/python benchmarks/request_breakdown.py [--columns 30] [--repeat 2000]

Each step runs ``--repeat`` times on a fresh copy of its input (no cache of a previous run helps it),
on one thread (torch on one thread), and is reported as microseconds per request and as a share of
aiaas's total; the ratio aiaas / hand-written is the in-process cost of everything aiaas answers
beyond a probability (input checks, reason codes, calibration, the prediction log). The HTTP side
(parsing, middleware, the event loop) is what ``serving_throughput.py`` measures from outside.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fraud_model import train_fraud_model
from serving_throughput import DERIVED, INSTANCE


def timed(repeat: int, make: Callable[[], Any], step: Callable[[Any], Any]) -> float:
    """Microseconds per call of ``step`` on a fresh ``make()``, made just before (as a request's frame is made
    just before its batch runs: the one-slot caches that share a batch's columns hold, as they do when serving)."""
    spent = 0.0
    for _ in range(repeat):
        value = make()
        started = time.perf_counter()
        step(value)
        spent += time.perf_counter() - started
    return spent / repeat * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--columns", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ.update({"AIAAS_HOME": str(folder / "home"), "OMP_NUM_THREADS": "1", "AIAAS_SMALL_DATA_ROWS": "0"})
        signals = max(0, args.columns - len(INSTANCE) - DERIVED)
        served = train_fraud_model(dict(os.environ), folder, "mlp", "torch", signals)
        run(folder, args.repeat, served)


def run(folder: Path, repeat: int, served: str) -> None:
    import torch

    torch.set_num_threads(1)
    from aiaas.monitoring.predictions import PredictionLog
    from aiaas.plugins import get_host
    from aiaas.registry import Registry
    from aiaas.serving.limits import parse_json
    from aiaas.serving.routes import validate_instances
    from aiaas.tabular import frame_of_rows
    from aiaas.versions import load_version

    import torch_fraud

    registry = Registry.from_settings()
    pipeline = load_version(get_host(), registry, "finance/fraud", warm=True)
    model_dir = registry.folder(registry.get("finance/fraud", pipeline.version))
    instance = dict(INSTANCE)
    for column in json.loads((model_dir / "preprocessor.json").read_text())["columns"]:
        if column["kind"] in ("numeric", "log") and column["name"] not in instance:
            instance[column["name"]] = round(float(column["median"]), 4)
    raw = json.dumps({"instances": [instance]}).encode()
    body = parse_json(raw)
    validated = validate_instances(pipeline, body["instances"])
    rows = pipeline.rows_from(validated)
    answers = pipeline.answers(frame_of_rows(rows))

    def records() -> Any:
        return frame_of_rows(copy.deepcopy(rows))

    steps: dict[str, float] = {
        "parse the body (strict JSON)": timed(repeat, lambda: raw, parse_json),
        "validate against the version's schema": timed(repeat, lambda: copy.deepcopy(body["instances"]), lambda i: validate_instances(pipeline, i)),
        "rows from the validated instances": timed(repeat, lambda: validated, pipeline.rows_from),
        "a frame of the rows": timed(repeat, lambda: copy.deepcopy(rows), frame_of_rows),
        "encode the columns (preprocessor)": timed(repeat, records, lambda r: pipeline.preprocessor.transform(r, pipeline.pre_state)),
        "input checks (encode included)": timed(repeat, records, pipeline.check),
        "model and calibration (encode included)": timed(repeat, records, pipeline.probabilities),
        "the answer: probability, decision, reason codes (encode, model included)": timed(repeat, records,
                                                                                          lambda r: pipeline.predict(r, explain=True)),
        "the whole answer: checks, model, reasons (what a batch of one runs)": timed(repeat, records, lambda r: pipeline.answers(r)),
    }
    queued = [{"id": "0" * 32, "request_id": "r", "task": "finance/fraud", "version": 1, "at": None, "key": "k", "answer": answers[0],
               "instance": validated[0], "log_inputs": True, "omit": (), "subject": None} for _ in range(repeat)]
    steps["the prediction log's row (its own thread)"] = timed(repeat, lambda: dict(queued.pop()), PredictionLog._row)
    steps["the answer as JSON"] = timed(repeat, lambda: {"predictions": answers, "model": {"task": "finance/fraud"}},
                                        lambda a: json.dumps(a).encode())
    model, columns = torch_fraud.load(model_dir)
    baseline = timed(repeat, lambda: dict(instance), lambda tx: torch_fraud.probabilities(model, columns, [tx]))
    total = sum(steps[s] for s in ("parse the body (strict JSON)", "validate against the version's schema", "rows from the validated instances",
                                   "a frame of the rows", "the whole answer: checks, model, reasons (what a batch of one runs)",
                                   "the prediction log's row (its own thread)", "the answer as JSON"))
    print(f"\n{len(instance)} fields a request; {served}; {repeat} runs of each step on one thread")
    print("| step | µs per request | share of aiaas's total |")
    print("| --- | --- | --- |")
    for name, micro in steps.items():
        print(f"| {name} | {micro:,.0f} | {micro / total:.0%} |")
    print(f"| **aiaas in process, total** | **{total:,.0f}** | 100% |")
    print(f"| hand-written: encode and one forward | {baseline:,.0f} | {baseline / total:.0%} |")
    print(f"\naiaas / hand-written in process: {total / baseline:.1f}x the work per lone request")


if __name__ == "__main__":
    sys.exit(main())
