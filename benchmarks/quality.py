"""Model quality on real data: ``--arch auto`` in every vertical against a scikit-learn
baseline trained on the same split in the same run.

    .venv/bin/python benchmarks/quality.py [--verticals finance,retail,healthcare,education] [--budget 6] [--seeds 1]
                                           [--runtime classical]

For each vertical the split is the one aiaas trains on (``aiaas.training.load_split``:
the same data checks, the same seed); aiaas fits its candidates on the training split,
chooses on validation and is scored on test; the baseline fits on training plus
validation and is scored on the same test rows:
- finance, ``finance/bank-marketing.csv`` with its own columns (``y``): gradient-boosted
  trees (scikit-learn's HistGradientBoosting, native categoricals); PR-AUC.
- finance-small, 2,000 rows drawn from that file per seed (a team's small table with its
  own columns): aiaas with its small-data path (k-fold selection, calibration and
  operating point, the refit, the ensemble) against both a plain logistic regression and
  HistGradientBoosting fitted on the same rows; the ratio is to the better of the two.
- retail, ``retail/womens-clothing-reviews.csv``, three classes from the stars: TF-IDF
  (words and word pairs) with class-balanced logistic regression; macro-F1.
- healthcare, the PneumoniaMNIST development file: logistic regression on the
  standardised pixels; ROC-AUC.
- education, ASSISTments 2009 (DKT format): logistic regression on each answer's history
  (performance-factors analysis with recency); ROC-AUC over every test answer.
``--budget`` minutes per vertical: no further candidate starts once it is spent (the
classical ones go first). ``--seeds N`` repeats each vertical on N splits (seeds 0..N-1) and
reports the means (small test splits, such as 225 reviews, move by a few points between
seeds); ``--runtime`` limits the candidates. Prints one row per vertical with the ratio
aiaas / baseline.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "education"))


def finance_baseline(train, validation, test, y) -> float:  # noqa: ANN001
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import average_precision_score

    def frame(records: pd.DataFrame) -> pd.DataFrame:
        out = records.copy()
        for c in out.columns:
            if not pd.api.types.is_numeric_dtype(out[c]):
                out[c] = out[c].astype("category")
        return out

    x = frame(pd.concat([train.records, validation.records], ignore_index=True))
    x_test = frame(test.records)
    for c in x.columns:
        if isinstance(x[c].dtype, pd.CategoricalDtype):
            x_test[c] = pd.Categorical(x_test[c], categories=x[c].cat.categories)
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0).fit(x, np.concatenate([y[0], y[1]]))
    return float(average_precision_score(y[2], model.predict_proba(x_test)[:, 1]))


def logistic_baseline(train, validation, test, y) -> float:  # noqa: ANN001
    """Plain logistic regression: categoricals one-hot, numbers standardised (scikit-learn)."""
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    x = pd.concat([train.records, validation.records], ignore_index=True)
    numeric = [c for c in x.columns if pd.api.types.is_numeric_dtype(x[c])]
    other = [c for c in x.columns if c not in numeric]
    model = make_pipeline(make_column_transformer((StandardScaler(), numeric), (OneHotEncoder(handle_unknown="ignore"), other)),
                          LogisticRegression(max_iter=3000))
    model.fit(x, np.concatenate([y[0], y[1]]))
    return float(average_precision_score(y[2], model.predict_proba(test.records)[:, 1]))


def small_table_baselines(train, validation, test, y) -> dict[str, float]:  # noqa: ANN001
    return {"logistic regression": logistic_baseline(train, validation, test, y),
            "HistGradientBoosting": finance_baseline(train, validation, test, y)}


def resampled_bank(path: Path, seed: int, folder: Path, rows: int = 2000) -> Path:
    """A team's small table: 2,000 rows drawn from the bank-marketing file (its own columns, its own label)."""

    from aiaas.tables import read_table

    frame = read_table(path).sample(rows, random_state=seed)
    out = folder / "bank-2000.csv"
    frame.to_csv(out, index=False)
    return out


def retail_baseline(train, validation, test, y) -> float:  # noqa: ANN001
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.pipeline import make_pipeline

    from aiaas.text import documents

    model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1),
                          LogisticRegression(class_weight="balanced", max_iter=3000))
    model.fit(documents(train.records) + documents(validation.records), np.concatenate([y[0], y[1]]))
    return float(f1_score(y[2], model.predict(documents(test.records)), average="macro"))


def healthcare_baseline(train, validation, test, y) -> float:  # noqa: ANN001
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import StandardScaler

    def pixels(records) -> np.ndarray:  # noqa: ANN001
        return np.stack([np.asarray(image, dtype=np.float32).reshape(-1) for image in records["image"]])

    scaler = StandardScaler().fit(np.concatenate([pixels(train.records), pixels(validation.records)]))
    model = LogisticRegression(C=0.1, max_iter=3000).fit(scaler.transform(np.concatenate([pixels(train.records), pixels(validation.records)])),
                                                         np.concatenate([y[0], y[1]]))
    return float(roc_auc_score(y[2], model.predict_proba(scaler.transform(pixels(test.records)))[:, 1]))


def education_baseline(train, validation, test, y) -> float:  # noqa: ANN001
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from aiaas_education.history_features import answers_frame, history_features

    def features(records: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        answers = answers_frame(records)
        x = history_features(answers)
        skills = pd.get_dummies(answers["skill"].astype(str), prefix="skill", dtype=float)
        return pd.concat([x, skills], axis=1), answers["correct"].to_numpy()

    fitted = pd.concat([train.records, validation.records], ignore_index=True)
    x, target = features(fitted)
    x_test, y_test = features(test.records)
    x_test = x_test.reindex(columns=x.columns, fill_value=0.0)
    model = LogisticRegression(C=1.0, max_iter=2000).fit(x.to_numpy(), target)
    return float(roc_auc_score(y_test, model.predict_proba(x_test.to_numpy())[:, 1]))


VERTICALS = {
    # name: (task, data file, label, options, metric, baseline name, baseline[, the data as a team would have it])
    "finance": ("finance/fraud", "finance/bank-marketing.csv", "y", {}, "average_precision", "gradient-boosted trees", finance_baseline),
    "finance-small": ("finance/fraud", "finance/bank-marketing.csv", "y", {}, "average_precision", "best of", small_table_baselines,
                      resampled_bank),
    "retail": ("retail/review-sentiment", "retail/womens-clothing-reviews.csv", None,
               {"text_column": "ReviewText", "title_column": "Title", "rating_column": "Rating"}, "macro_f1",
               "TF-IDF + logistic regression", retail_baseline),
    "healthcare": ("healthcare/chest-xray", "healthcare/pneumoniamnist-dev.npz", None, {"splits": "train"}, "roc_auc",
                   "logistic regression on pixels", healthcare_baseline),
    "education": ("education/knowledge-tracing", "education/assistments2009-builder-train.csv", None, {}, "roc_auc",
                  "logistic regression on answer history", education_baseline),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--verticals", default=",".join(VERTICALS))
    parser.add_argument("--budget", type=float, default=6.0, help="minutes per vertical for --arch auto")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--runtime", default=None, help="only candidates on this runtime")
    args = parser.parse_args()

    from aiaas.plugins import get_host
    from aiaas.registry import Registry
    from aiaas.testing import isolated_home
    from aiaas.training import TrainRequest, load_split, train

    rows = []
    for name in [v for v in args.verticals.split(",") if v]:
        task_name, file, label, options, metric, baseline_name, baseline, *prepare = VERTICALS[name]
        source = args.data / file
        if not source.exists():
            print(f"{name}: {source} is missing; skipped")
            continue
        ours_all, floor_all, seconds, baseline_seconds, chosen, boards = [], [], 0.0, 0.0, [], []
        for seed in range(args.seeds):
            with tempfile.TemporaryDirectory() as folder, isolated_home(Path(folder) / "home"):
                path = prepare[0](source, seed, Path(folder)) if prepare else source
                host, registry = get_host(), Registry.from_settings()
                request = TrainRequest(task_name, path, runtime=args.runtime, architecture="auto", label=label, options=dict(options),
                                       seed=seed, budget=args.budget)
                start = time.perf_counter()
                result = train(host, registry, request, quiet=False)
                seconds += time.perf_counter() - start
                task = host.task(task_name)
                data = load_split(host, task, request, screens_columns=task.preprocessor == "tabular")
                start = time.perf_counter()
                scored = baseline(data.train, data.validation, data.test, data.y)
                scored = scored if isinstance(scored, dict) else {baseline_name: scored}
                floor_all.append(scored)
                baseline_seconds += time.perf_counter() - start
            ours_all.append(result.metrics[metric])
            chosen.append(result.version.architecture)
            boards.append(", ".join(f"{r['candidate']} {r['test'].get(metric, float('nan')):.3f}" for r in result.leaderboard))
            print(f"\n{name} seed {seed}: aiaas {chosen[-1]} {metric} {ours_all[-1]:.4f} vs "
                  f"{', '.join(f'{k} {v:.4f}' for k, v in scored.items())}; candidates on test: {boards[-1]}; "
                  f"floor: {result.floor.get('text', '')}\n", flush=True)
        ours = float(np.mean(ours_all))
        means = {k: float(np.mean([f[k] for f in floor_all])) for k in floor_all[0]}
        best = max(means, key=means.get)  # type: ignore[arg-type]
        label = ", ".join(f"{k} {v:.4f}" for k, v in means.items()) if len(means) > 1 else best
        rows.append((name, metric, "/".join(sorted(set(chosen))), ours, label, means[best], seconds, baseline_seconds, boards))

    print(f"\n{args.seeds} split(s) per vertical; means over them")
    print("\n| vertical | metric (test) | aiaas --arch auto | chosen | baseline (same split) | ratio | aiaas s | baseline s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, metric, arch, ours, baseline_name, floor_value, seconds, baseline_seconds, _ in rows:
        print(f"| {name} | {metric} | {ours:.4f} | {arch} | {baseline_name} (best {floor_value:.4f}) | {ours / floor_value:.3f} | "
              f"{seconds:.0f} | {baseline_seconds:.1f} |")


if __name__ == "__main__":
    main()
