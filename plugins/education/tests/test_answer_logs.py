"""Reading answer logs: column names, order, several skills per answer, short learners, the DKT format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aiaas import InvalidInput, LoadOptions
from aiaas.plugins import get_host
from aiaas.splits import split
from aiaas_education.adapters import load_answers, load_dkt_lines
from aiaas_education.simulator import generate, write_sample

LABELLED = LoadOptions(label="correct")


def test_common_column_names_time_order_and_multi_skill_answers(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    pd.DataFrame({
        "student_id": ["s1", "s2", "s1", "s1", "s2", "s3", "s1"],
        "timestamp": ["2026-01-03", "2026-01-01", "2026-01-01", "2026-01-02", "2026-01-02", "2026-01-01", None],
        "kc": ["add", "add", "sub~~add", "mul", "sub", "add", "div"],
        "is_correct": [1, 0, 1, 0, 1, 1, 1],
        "problem_id": [11, 12, 13, 14, 15, 16, 17],
        "hint_count": [0, 2, 1, 0, 0, 0, 0],
    }).to_csv(path, index=False)
    data = load_answers(path, LABELLED)
    by = data.records.set_index("learner")
    assert by.loc["s1", "skill"] == ["sub", "add", "mul", "add", "div"]  # time order (no time: last); "sub~~add" counts for both
    assert by.loc["s1", "correct"] == [1, 1, 0, 1, 1]
    assert by.loc["s1", "item"] == ["13", "13", "14", "11", "17"]
    assert by.loc["s2", "hints"] == [2.0, 0.0]
    assert "s3" not in by.index  # one answer: left out of training
    assert any("left out 1 learner(s) with fewer than two answers" in n for n in data.notes)
    assert data.labels.tolist() == data.records["correct"].tolist()
    scoring = load_answers(path, LoadOptions(labelled=False))
    assert "s3" in set(scoring.records["learner"]) and scoring.labels is None  # scoring answers every learner


def test_options_name_columns_and_semicolons_are_detected(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("who;when;topic;score\na;1;x;1\na;2;y;0\nb;1;x;0\nb;2;x;1\n")
    data = load_answers(path, LoadOptions(label="score", extra={"learner_column": "who", "order_column": "when", "skill_column": "topic"}))
    assert data.records["skill"].tolist() == [["x", "y"], ["x", "x"]]
    with pytest.raises(InvalidInput, match="learner_column=nobody: no such column"):
        load_answers(path, LoadOptions(label="score", extra={"learner_column": "nobody"}))
    with pytest.raises(InvalidInput, match="no learner column"):
        load_answers(path, LoadOptions(label="score"))


def test_correctness_must_be_zero_or_one(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("user_id,order_id,skill_id,correct\na,1,x,1\na,2,x,0.5\n")
    with pytest.raises(InvalidInput, match="column 'correct' must hold 0 or 1.*0.5"):
        load_answers(path, LABELLED)


def test_parquet_and_the_dkt_three_line_format(tmp_path: Path) -> None:
    answers, _ = generate(400, seed=1)
    answers.to_parquet(tmp_path / "log.parquet")
    from_parquet = load_answers(tmp_path / "log.parquet", LABELLED)
    assert from_parquet.records["correct"].map(len).sum() == len(answers)

    (tmp_path / "dkt.csv").write_text("3\n1,2,1\n0,1,1\n1\n7\n1\n2\n5,5,\n1,0,\n")
    data = load_answers(tmp_path / "dkt.csv", LABELLED)  # sniffed, though it ends in .csv
    assert data.records["skill"].tolist() == [["1", "2", "1"], ["5", "5"]]
    assert data.records["correct"].tolist() == [[0, 1, 1], [1, 0]]
    assert any("left out 1 learner" in n for n in data.notes)
    (tmp_path / "broken.csv").write_text("3\n1,2\n0,1\n")
    with pytest.raises(InvalidInput, match="says '3' answers but lists 2 skills"):
        load_dkt_lines(tmp_path / "broken.csv", LABELLED)


def test_the_split_keeps_each_learner_in_one_part(tmp_path: Path, aiaas_home: Path) -> None:
    data = load_answers(write_sample(tmp_path, 6000, seed=2), LABELLED)
    task = get_host().task("education/knowledge-tracing")
    parts = split(data.records, np.zeros(len(data.records), dtype=int), task.split, seed=0)
    learners = [set(data.records["learner"].iloc[ix]) for ix in (parts.train, parts.validation, parts.test)]
    assert all(learners) and not (learners[0] & learners[1] or learners[0] & learners[2] or learners[1] & learners[2])
    assert "learner" in parts.description


def test_the_simulator_is_seeded_and_its_truth_matches_its_learners(tmp_path: Path) -> None:
    first, truth = generate(3000, seed=4)
    again, _ = generate(3000, seed=4)
    pd.testing.assert_frame_equal(first, again)
    assert set(truth["user_id"]) == set(first["user_id"])
    # mastered skills are answered correctly far more often than unmastered ones
    last = first.groupby(["user_id", "skill"]).tail(2).merge(truth, on=["user_id", "skill"])
    assert last[last.mastered == 1].correct.mean() > last[last.mastered == 0].correct.mean() + 0.3


def test_a_log_in_shuffled_files_streams_as_whole_learners_and_fits_as_the_whole(tmp_path: Path) -> None:
    """The stream form regroups a log written in any order across files: each learner comes once, with
    the same answers in the same order as ``load_answers`` reads from one file; the preprocessor fitted
    from the chunks' merged summaries is the one fitted on all learners."""
    from aiaas_education.adapters import stream_answers
    from aiaas_education.sequences import AnswerSequences

    answers, _ = generate(4000, seed=1)
    answers.to_csv(tmp_path / "one.csv", index=False)
    folder = tmp_path / "log"
    folder.mkdir()
    for i, rows in enumerate(np.array_split(np.random.default_rng(0).permutation(len(answers)), 3)):
        answers.iloc[rows].to_csv(folder / f"part-{i}.csv", index=False)
    whole = load_answers(tmp_path / "one.csv", LABELLED)
    chunks = list(stream_answers(folder, LABELLED, 300))  # about 300 answers at a time: a few learners a chunk
    assert len(chunks) > 3 and all(len(c) <= 300 for c in chunks)
    streamed = pd.concat([c.records for c in chunks]).set_index("learner")
    assert streamed.index.is_unique and set(streamed.index) == set(whole.records["learner"])
    expected = whole.records.set_index("learner")
    for column in ("skill", "correct", "item"):
        assert streamed[column].loc[expected.index].tolist() == expected[column].tolist(), column
    pre = AnswerSequences()
    summary = None
    for chunk in chunks:
        part = pre.summarize(chunk.records, chunk.labels)
        summary = part if summary is None else pre.merge(summary, part)
    assert pre.finish(summary, chunks[0].records, None).meta == pre.fit(whole.records, whole.labels).meta
