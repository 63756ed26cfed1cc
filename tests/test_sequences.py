"""Core support for sequence tasks: id vocabulary, windows, padding, the sequence label kind."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aiaas import Dataset, InvalidInput, Label, LabelSchema
from aiaas.calibration import calibrated, fit_platt
from aiaas.labels import encode
from aiaas.metrics import compute, observed, score_for_selection
from aiaas.sequences import PAD, UNKNOWN, IdVocabulary, expand, pad, windows

STEPS = LabelSchema(name="t.steps", kind="sequence", labels=(Label("wrong"), Label("right")), positive="right")


def test_rare_and_unseen_values_share_the_unknown_id() -> None:
    vocabulary = IdVocabulary.fit(["10", "2", "2", "10", "rare", "2"], min_count=2)
    assert vocabulary.values == ["2", "10"]  # numeric ids in numeric order
    assert list(vocabulary.ids(["2", "10", "rare", "never"])) == [2, 3, UNKNOWN, UNKNOWN]
    assert len(vocabulary) == 4 and PAD == 0
    assert vocabulary.unknown(["2", "rare", "never", "rare"]) == ["rare", "never"]


@pytest.mark.parametrize("length,size,stride", [(1, 4, 2), (4, 4, 2), (5, 4, 2), (17, 6, 3), (100, 10, 10), (23, 8, 5)])
def test_windows_score_every_step_once_with_context(length: int, size: int, stride: int) -> None:
    scored = []
    for w in windows(length, size, stride):
        assert 0 <= w.start < w.end <= length and w.end - w.start <= size
        if w.start > 0:
            assert w.scored_from >= size - stride  # later windows carry context before what they score
        scored += list(range(w.start + w.scored_from, w.end))
    assert scored == list(range(length))


def test_expand_cuts_aligned_columns_and_marks_context_steps() -> None:
    records = pd.DataFrame({"learner": ["a", "b"], "skill": [list("abcdefg"), list("xy")], "correct": [[1, 0, 1, 1, 0, 1, 1], [0, 1]]})
    out = expand(Dataset(records, records["correct"].copy()), size=4, stride=2)
    assert list(out.records["learner"]) == ["a", "a", "a", "b"]
    assert out.records["skill"].tolist() == [list("abcd"), list("cdef"), list("defg"), list("xy")]
    assert out.labels.tolist() == [[1, 0, 1, 1], [None, None, 0, 1], [None, None, None, 1], [0, 1]]
    y = encode(STEPS, out.labels, "correct")
    assert y.shape == (4, 4) and y[1].tolist() == [-1, -1, 0, 1] and y[3].tolist() == [0, 1, -1, -1]


def test_sequence_labels_refuse_values_other_than_0_and_1() -> None:
    with pytest.raises(InvalidInput, match="other than 0 and 1"):
        encode(STEPS, pd.Series([[0, 2]]), "correct")
    with pytest.raises(InvalidInput, match="a list per record"):
        encode(STEPS, pd.Series([1]), "correct")


def test_pad_to_the_batch_longest_or_a_width() -> None:
    assert pad([[1, 2, 3], [4]]).tolist() == [[1, 2, 3], [4, 0, 0]]
    assert pad([[1, 2, 3]], width=2).tolist() == [[1, 2]]
    assert pad([[]]).shape == (1, 1)


def test_metrics_score_only_the_scored_steps() -> None:
    y = np.array([[1, 0, -1], [0, -1, -1]])
    p = np.array([[0.9, 0.2, 0.0], [0.1, 1.0, 1.0]])  # padding predictions would ruin every metric if counted
    flat_y, flat_p = observed(y, p)
    assert flat_y.tolist() == [1, 0, 0] and flat_p.tolist() == [0.9, 0.2, 0.1]
    scores = compute(("roc_auc", "accuracy", "rmse"), y, p)
    assert scores["roc_auc"] == 1.0 and scores["accuracy"] == 1.0
    assert scores["rmse"] == pytest.approx(np.sqrt((0.01 + 0.04 + 0.01) / 3))
    assert score_for_selection("rmse", y, p) == pytest.approx(-scores["rmse"])  # lower is better


def test_platt_scaling_applies_per_step() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 6))
    y = (rng.random((50, 6)) < 1 / (1 + np.exp(-2 * logits))).astype(int)
    y[:, 4:] = -1
    platt = fit_platt(*reversed(observed(y, logits)))
    assert platt is not None and platt["a"] > 1  # the true scale is 2
    p = calibrated(logits, "sequence", platt)
    assert p.shape == logits.shape and np.all((p > 0) & (p < 1))


def test_torch_and_keras_losses_ignore_unscored_steps() -> None:
    torch = pytest.importorskip("torch")
    from aiaas.runtimes.torch import loss_fn

    logits = torch.tensor([[2.0, -1.0, 50.0], [0.5, 50.0, 50.0]])
    targets = torch.tensor([[1, 0, -1], [1, -1, -1]])
    per_row = loss_fn("sequence", logits, targets)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    expected = (bce(torch.tensor(2.0), torch.tensor(1.0)) + bce(torch.tensor(-1.0), torch.tensor(0.0)) + bce(torch.tensor(0.5), torch.tensor(1.0))) / 3
    assert float(per_row.mean()) == pytest.approx(float(expected), rel=1e-5)

    from aiaas.runtimes.tensorflow import ScoredStepsLoss

    keras_loss = float(ScoredStepsLoss()(targets.numpy().astype("float32"), logits.numpy()))
    assert keras_loss == pytest.approx(float(expected), rel=1e-5)
