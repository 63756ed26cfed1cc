"""Report figures for knowledge tracing: AUC per skill on the test learners, and the
classic heatmap of a few test learners' estimated mastery along their answers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from aiaas import figure_png

if TYPE_CHECKING:
    import pandas as pd

    from aiaas import Pipeline

SHOWN_SKILLS, SHOWN_STEPS, LEARNERS = 30, 40, 3


def figures(pipeline: Pipeline, records: pd.DataFrame, y: np.ndarray, p: np.ndarray) -> dict[str, bytes]:
    out = {}
    per_skill = skill_auc(pipeline, records, y, p)
    if per_skill:
        out["skill_auc.png"] = _skill_auc_plot(per_skill)
    if len(records):
        out["mastery_heatmap.png"] = _heatmaps(pipeline, records)
    return out


def skill_auc(pipeline: Pipeline, records: pd.DataFrame, y: np.ndarray, p: np.ndarray, least: int = 20) -> dict[str, tuple[float, int]]:
    """AUC and answer count of each skill with enough scored answers of both outcomes, most answered first."""
    from sklearn.metrics import roc_auc_score

    names = ["<pad>", "<unknown>", *pipeline.preprocessor.vocabulary(pipeline.pre_state).values]
    query = pipeline.preprocessor.transform(records, pipeline.pre_state)["query"]
    width = min(y.shape[1], p.shape[1], query.shape[1])
    y, p, query = y[:, :width], p[:, :width], query[:, :width]
    scored = y >= 0
    out: dict[str, tuple[float, int]] = {}
    skills, counts = np.unique(query[scored], return_counts=True)
    for skill, count in sorted(zip(skills, counts), key=lambda sc: -sc[1]):
        mask = scored & (query == skill)
        if count >= least and 0 < y[mask].mean() < 1:
            out[names[skill]] = (float(roc_auc_score(y[mask], p[mask])), int(count))
    return out


def _skill_auc_plot(per_skill: dict[str, tuple[float, int]]) -> bytes:
    shown = list(per_skill.items())[:SHOWN_SKILLS]

    def draw(ax: Any) -> None:
        names = [f"{name[:28]} ({count})" for name, (_, count) in shown]
        ax.barh(range(len(shown)), [auc for _, (auc, _) in shown], color="tab:blue")
        ax.axvline(0.5, ls="--", c="grey")
        ax.set_yticks(range(len(shown)), names, fontsize=7)
        ax.invert_yaxis()
        ax.set(xlim=(0.3, 1.0), xlabel="AUC on test learners", title=f"AUC per skill (the {len(shown)} most answered)")

    return figure_png(draw, size=(6.0, max(3.0, 0.22 * len(shown) + 1.2)))


def _heatmaps(pipeline: Pipeline, records: pd.DataFrame) -> bytes:
    pre, state = pipeline.preprocessor, pipeline.pre_state
    vocabulary = pre.vocabulary(state)
    longest = records["skill"].map(len).sort_values(ascending=False).index[:LEARNERS]
    panels = []
    for i in longest:
        record = records.loc[i].to_dict()
        steps = min(len(record["skill"]), SHOWN_STEPS)
        prefixes = [pre.history({**record, "skill": record["skill"][:k], "correct": record["correct"][:k], "next_skill": None,
                                 "next_item": None}, state) for k in range(steps + 1)]
        inputs, starts = pre.probe(prefixes, state)
        p = pipeline.run(inputs)
        practised = list(dict.fromkeys(s for s in record["skill"][:steps] if s in vocabulary))[:12]
        columns = [vocabulary.values.index(s) for s in practised]
        grid = np.array([[p[k, starts[k] + c] for k in range(steps + 1)] for c in columns])
        panels.append((record, steps, practised, grid))

    def draw(axes: Any) -> None:
        for ax, (record, steps, practised, grid) in zip(axes if isinstance(axes, list) else [axes], panels):
            image = ax.imshow(grid, aspect="auto", cmap="RdYlGn", vmin=0, vmax=1)
            ax.figure.colorbar(image, ax=ax, fraction=0.03, label="P(correct next)")
            ax.set_yticks(range(len(practised)), [s[:20] for s in practised], fontsize=7)
            marks = [f"{'✓' if c else '✗'}" for c in record["correct"][:steps]]
            ax.set_xticks(range(1, steps + 1), marks, fontsize=6)
            for k, skill in enumerate(record["skill"][:steps]):
                if skill in practised:
                    ax.add_patch(_box(k + 1, practised.index(skill)))
            ax.set(xlabel="answers (✓ correct, ✗ wrong; boxed: the skill answered)", title=f"{record.get('learner', '')}: estimated mastery")

    return figure_png(draw, size=(6.5 * len(panels), 4.2), panels=len(panels))


def _box(x: int, y: int) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=0.8)
