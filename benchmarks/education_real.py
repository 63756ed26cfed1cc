"""Knowledge tracing on real answer logs (ASSISTments 2009-2010 skill builder, as
published with the DKT paper), next to a logistic regression on per-skill history.

    .venv/bin/python benchmarks/education_real.py [--archs dkt,sakt] [--seed 0] [--epochs 30]

In one run, on the same learners:
- aiaas ``education/knowledge-tracing`` trained through the task's adapter on the
  three-line file; the core splits by learner (seeded): 70% train, 15% validation
  (early stopping, calibration), 15% held-out test learners;
- baseline: scikit-learn logistic regression on per-skill history features of each
  answer (earlier attempts, successes and failures on the skill, its smoothed rate,
  last outcome and gap, overall attempts and rate, the recent rate, the skill),
  fitted on the answers of the train and validation learners.
AUC, accuracy and RMSE over every answer of the held-out learners (each answer
predicted from the answers before it). Published DKT figures on this data: AUC
between about 0.72 and 0.82 depending on the protocol.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "education" / "assistments2009-builder-train.csv"
TASK = "education/knowledge-tracing"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--archs", default="dkt")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()

    from scipy import sparse
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.preprocessing import OneHotEncoder

    from aiaas.dataset import LoadOptions
    from aiaas.labels import encode
    from aiaas.plugins import get_host
    from aiaas.registry import Registry
    from aiaas.splits import split
    from aiaas.testing import isolated_home
    from aiaas.training import TrainRequest, train
    from aiaas_education.adapters import load_answers
    from aiaas_education.history_features import answers_frame, history_features

    dataset = load_answers(args.data, LoadOptions(label="correct"))
    print(f"{args.data.name}: {'; '.join(dataset.notes)}")
    with tempfile.TemporaryDirectory() as home, isolated_home(Path(home)):
        host = get_host()
        task = host.task(TASK)
        parts = split(dataset.records, encode(host.label_schema(task), dataset.labels, "correct"), task.split, args.seed)
        fit_learners = np.concatenate([parts.train, parts.validation])
        fit = answers_frame(dataset.records.iloc[fit_learners])
        test = answers_frame(dataset.records.iloc[parts.test])
        print(f"learners: {len(parts.train)} train, {len(parts.validation)} validation, {len(parts.test)} test "
              f"({len(test)} test answers); {parts.description}")

        started = time.perf_counter()
        encoder = OneHotEncoder(handle_unknown="ignore").fit(fit[["skill"]])

        def design(answers):  # noqa: ANN001, ANN202
            return sparse.hstack([sparse.csr_matrix(history_features(answers).to_numpy(dtype=float)), encoder.transform(answers[["skill"]])]).tocsr()

        baseline = LogisticRegression(max_iter=2000, C=1.0).fit(design(fit), fit["correct"])
        p_base = baseline.predict_proba(design(test))[:, 1]
        rows = {"logistic regression (history)": (p_base, time.perf_counter() - started)}

        registry = Registry.from_settings()
        for arch in [a for a in args.archs.split(",") if a]:
            started = time.perf_counter()
            result = train(host, registry, TrainRequest(TASK, args.data, architecture=arch, epochs=args.epochs, seed=args.seed))
            rows[f"aiaas {arch}"] = (result.metrics, time.perf_counter() - started)

    y = test["correct"].to_numpy()
    base_auc = roc_auc_score(y, p_base)
    print(f"\n{'model':34} {'AUC':>7} {'accuracy':>9} {'RMSE':>7} {'AUC ratio':>10} {'seconds':>8}")
    for name, (value, seconds) in rows.items():
        if isinstance(value, dict):
            auc, acc, rmse = value["roc_auc"], value["accuracy"], value["rmse"]
        else:
            auc, acc, rmse = roc_auc_score(y, value), accuracy_score(y, value >= 0.5), float(np.sqrt(np.mean((value - y) ** 2)))
        print(f"{name:34} {auc:7.4f} {acc:9.4f} {rmse:7.4f} {auc / base_auc:10.3f} {seconds:8.0f}")


if __name__ == "__main__":
    main()
