"""The chest-xray task on real X-rays (PneumoniaMNIST), next to a pixel baseline.

    .venv/bin/python benchmarks/healthcare_real.py [--arch resnet18] [--epochs 15] [--data PATH]

Both models learn from the file's ``train`` split in the same run and are scored on
its ``val`` split (270 balanced images), which neither sees while training:
- aiaas: ``aiaas train healthcare/chest-xray`` through the npz adapter (the core holds
  out 15% of train for early stopping and calibration, 15% as its own test split);
- baseline: scikit-learn's logistic regression on the raw, standardised 28x28 pixels,
  fitted on all of train.
Published reference: ResNet-18 at 28x28 reaches AUROC 0.944 on PneumoniaMNIST's test split
(MedMNIST v2); the val split here is a different, balanced subset, so expect nearby,
not equal, figures.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "healthcare" / "pneumoniamnist-dev.npz"


def bootstrap_difference(y: np.ndarray, a: np.ndarray, b: np.ndarray, seed: int, rounds: int = 2000) -> tuple[float, float]:
    """95% interval of AUROC(a) - AUROC(b), resampling the same images for both."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(rounds):
        index = rng.integers(0, len(y), len(y))
        if len(np.unique(y[index])) == 2:
            differences.append(roc_auc_score(y[index], a[index]) - roc_auc_score(y[index], b[index]))
    return float(np.percentile(differences, 2.5)), float(np.percentile(differences, 97.5))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score, brier_score_loss, roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from aiaas import LoadOptions
    from aiaas.plugins import get_host
    from aiaas.registry import Registry
    from aiaas.testing import isolated_home
    from aiaas.training import TrainRequest, train
    from aiaas.versions import load_version
    from aiaas.vision.datasets import load_npz

    with np.load(args.data) as archive:
        x_train, y_train = archive["train_images"], archive["train_labels"].reshape(-1)
        x_val, y_val = archive["val_images"], archive["val_labels"].reshape(-1)
    print(f"{args.data.name}: train {len(y_train)} images ({y_train.mean():.0%} pneumonia), val {len(y_val)} ({y_val.mean():.0%})")

    start = time.perf_counter()
    baseline = make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=2000))
    baseline.fit(x_train.reshape(len(x_train), -1) / 255.0, y_train)
    p_baseline = baseline.predict_proba(x_val.reshape(len(x_val), -1) / 255.0)[:, 1]
    baseline_s = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as home, isolated_home(Path(home)):
        host, registry = get_host(), Registry.from_settings()
        start = time.perf_counter()
        request = TrainRequest("healthcare/chest-xray", args.data, architecture=args.arch, epochs=args.epochs,
                               options={"splits": "train"}, seed=args.seed)
        result = train(host, registry, request)
        model_s = time.perf_counter() - start
        pipeline = load_version(host, registry, "healthcare/chest-xray", result.version.version)
        val = load_npz(args.data, LoadOptions(labelled=False, extra={"splits": "val"}))
        p_model = pipeline.probabilities(val.records)
        threshold = pipeline.threshold

    auc_model, auc_baseline = roc_auc_score(y_val, p_model), roc_auc_score(y_val, p_baseline)
    low, high = bootstrap_difference(y_val, p_model, p_baseline, args.seed)
    print()
    print(f"{'':34}{'AUROC (val)':>12}{'bal. acc.':>11}{'Brier':>8}{'seconds':>9}")
    for name, p, t, seconds in ((f"aiaas {args.arch}", p_model, threshold, model_s), ("logistic regression on pixels", p_baseline, 0.5, baseline_s)):
        print(f"{name:34}{roc_auc_score(y_val, p):12.4f}{balanced_accuracy_score(y_val, p >= t):11.3f}{brier_score_loss(y_val, p):8.4f}{seconds:9.0f}")
    print(f"ratio (aiaas / baseline AUROC): {auc_model / auc_baseline:.4f}; difference {auc_model - auc_baseline:+.4f} "
          f"(paired bootstrap 95% interval {low:+.4f} to {high:+.4f}); "
          f"{'the model beats the baseline' if auc_model > auc_baseline else 'the model does NOT beat the baseline'}")
    print("aiaas balanced accuracy is at its operating point (chosen on its own validation data for 95% sensitivity).")


if __name__ == "__main__":
    main()
