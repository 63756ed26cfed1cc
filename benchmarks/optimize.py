"""Size, time per row and metric of each vertical's neural model: eager (its own framework),
ONNX, and ONNX int8, from `aiaas optimize` on the real data in ``../shared/datasets``.

    .venv/bin/python benchmarks/optimize.py [--verticals healthcare,retail,finance,education] [--epochs N] [--threads 1]

Per vertical a torch model is trained on the real data (a few epochs: the point is the same
model three ways, not its best score), then optimised twice. Each figure comes from the same
validation rows of the version's own split: ms per row is one pass in batches of 64 over rows
the model has not seen (a frozen encoder remembers sentences), every runtime on ``--threads`` threads; size is the model file (safetensors / ONNX);
the metric is the task's first. Prints one row per vertical and model, with the ratios of int8
to eager.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

MODELS = {  # vertical: its torch architectures and epochs (a frozen MiniLM's epochs are cheap after the first)
    "healthcare": (("resnet18", 1),),
    "retail": (("minilm", 8), ("lstm", 8)),
    "finance": (("mlp", 3),),
    "education": (("dkt", 1),),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--verticals", default=",".join(MODELS))
    parser.add_argument("--epochs", type=int, default=None, help="epochs for every model (default: each model's own, above)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rows", type=int, default=1000, help="validation rows timed and scored")
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # torch and ONNX Runtime alike

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from quality import DATA, VERTICALS

    import torch

    torch.set_num_threads(args.threads)
    from aiaas.optimize import optimize
    from aiaas.plugins import get_host
    from aiaas.registry import Registry
    from aiaas.testing import isolated_home
    from aiaas.training import TrainRequest, train

    lines = []
    for name in [v for v in args.verticals.split(",") if v]:
        task, file, label, options, _metric, _, _ = VERTICALS[name]
        if not (DATA / file).exists():
            print(f"{name}: {DATA / file} is missing; skipped")
            continue
        for arch, epochs in MODELS[name]:
            with tempfile.TemporaryDirectory() as folder, isolated_home(Path(folder) / "home"):
                host, registry = get_host(), Registry.from_settings()
                request = TrainRequest(task, DATA / file, architecture=arch, runtime="torch", label=label, options=dict(options),
                                       epochs=args.epochs or epochs)
                version = train(host, registry, request, quiet=True).version.version
                onnx = optimize(host, registry, task, version, label=label, options=dict(options), rows=args.rows).comparison
                int8 = optimize(host, registry, task, version, quantize="int8", label=label, options=dict(options), rows=args.rows).comparison
            # eager as measured beside the int8 model (the ratio's own run); ONNX fp32 from its run
            cells = [(int8, 0, int8.before), (onnx, 1, onnx.after), (int8, 1, int8.after)]
            row = (f"| {name} | {arch} | {onnx.metric} | "
                   + " | ".join(f"{c.size_bytes[i] / 1e6:.2f} MB, {c.ms_per_row[i]:.3g} ms, {metric:.4f}" for c, i, metric in cells)
                   + f" | {int8.ms_per_row[0] / int8.ms_per_row[1]:.2f}x faster, {int8.size_bytes[0] / int8.size_bytes[1]:.2f}x smaller, "
                   f"{100 * (int8.after - int8.before):+.2f} points; same label {int8.agreement:.1%} |")
            print(row, flush=True)
            lines.append(row)
    print("\n| vertical | model | metric | eager: size, ms/row, metric | ONNX | ONNX int8 | int8 / eager |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
