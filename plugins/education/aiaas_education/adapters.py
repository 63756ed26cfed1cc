"""Answer logs -> one record per learner: the learner's answers in order, as aligned lists.

Two formats:
- an answer log (CSV, TSV or Parquet), one row per answer. Columns are found by their
  common names (below) or named with ``--option learner_column=`` (likewise
  ``order_column``, ``skill_column``, ``item_column``; ``--label`` names the correctness
  column). Answers are put in order per learner by the order column (or timestamp);
  without one, in file order.
- the DKT three-line format: per learner a line with the number of answers, a line of
  comma-separated skill ids and a line of comma-separated 0/1.

An answer tagged with several skills (``"3~~7"``, ``"3|7"`` or ``"3;7"``, or the
separator given by ``--option skill_separator=``) counts as one answer on each of
them, in a row, as the DKT papers do. Rows missing the learner, skill or correctness
are dropped, and so are learners with fewer than two answers when training or
evaluating; the notes say how many.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from aiaas import Dataset, InvalidInput, LoadOptions
from aiaas.tables import grouped_chunks, table_chunks

COLUMNS: dict[str, tuple[str, ...]] = {
    "learner": ("user_id", "student_id", "learner_id", "learner", "student", "user", "anon_student_id", "uid"),
    "order": ("order_id", "order", "timestamp", "time", "start_time", "datetime", "date", "seq", "step"),
    "skill": ("skill_id", "skill", "kc", "kc_id", "skill_name", "knowledge_component", "concept", "concept_id", "tag"),
    "item": ("item_id", "item", "problem_id", "question_id", "question", "exercise_id", "assistment_id"),
    "attempts": ("attempt_count", "attempts", "attempt"),
    "hints": ("hint_count", "hints", "hint"),
    "response_time": ("response_time", "ms_first_response", "duration", "elapsed_time", "time_taken"),
}
CORRECT = ("correct", "is_correct", "answer_correct", "correctness", "outcome")
SEPARATORS = ("~~", "|", ";")
_TRUE, _FALSE = {"1", "1.0", "true", "yes", "t", "y"}, {"0", "0.0", "false", "no", "f", "n"}


def load_answers(path: Path, options: LoadOptions) -> Dataset:
    path = Path(path)
    if path.suffix.lower() not in (".parquet", ".pq") and _is_dkt_lines(path):
        return load_dkt_lines(path, options)
    frame = _read_table(path)
    return _sequences(frame, path, options)


def stream_answers(path: Path, options: LoadOptions, batch_rows: int) -> Iterator[Dataset]:
    """``load_answers`` as a stream of learners with bounded memory: the log is regrouped by learner
    on disk (``aiaas.dataplane.grouped``), so a log of any size in any order gives each learner's
    whole history. A DKT three-line file is read whole (its lines are already per learner)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if path.is_file() and (suffix not in (".csv", ".tsv", ".parquet", ".pq") or (suffix not in (".parquet", ".pq") and _is_dkt_lines(path))):
        whole = load_answers(path, options)
        yield from (whole.take(slice(start, start + batch_rows)) for start in range(0, len(whole), batch_rows))
        return
    head = next(table_chunks(path, 1024), None)
    if head is None:
        raise InvalidInput(f"{path}: no answers to read")
    ids = [c for c in (_column(head, role, COLUMNS[role], options, role in ("learner", "skill")) for role in ("learner", "skill", "item")) if c]
    for frame in grouped_chunks(path, batch_rows, ids[0], text_columns=ids):
        learners = _sequences(frame, path, options, whole=False)
        yield from (learners.take(slice(start, start + batch_rows)) for start in range(0, len(learners), batch_rows))


def load_dkt_lines(path: Path, options: LoadOptions) -> Dataset:
    lines = [line.strip() for line in Path(path).read_text(encoding="utf-8-sig").splitlines()]
    lines = [line.rstrip(",") for line in lines if line]
    if len(lines) % 3:
        raise InvalidInput(f"{path}: the DKT three-line format has 3 lines per learner; the file has {len(lines)} non-blank lines")
    rows = []
    for k in range(0, len(lines), 3):
        count, skills, answers = lines[k], lines[k + 1].split(","), lines[k + 2].split(",")
        if not count.isdigit() or int(count) != len(skills) or len(skills) != len(answers):
            raise InvalidInput(f"{path}: learner {k // 3 + 1} (line {k + 1}) says {count!r} answers but lists "
                               f"{len(skills)} skills and {len(answers)} results")
        rows.append({"learner": f"learner-{k // 3 + 1}", "skill": [s.strip() for s in skills], "correct": _binary(pd.Series(answers), "correct", path)})
    frame = pd.DataFrame(rows, columns=["learner", "skill", "correct"])
    return _finish(frame, path, options, [])


def _is_dkt_lines(path: Path) -> bool:
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        head = [f.readline().strip().rstrip(",") for _ in range(3)]
    return bool(head[0].isdigit() and head[1] and re.fullmatch(r"[01](,[01])*", head[2]) and len(head[1].split(",")) == int(head[0]))


def _read_table(path: Path) -> pd.DataFrame:
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        sample = f.read(64_000)
    try:
        sep = csv.Sniffer().sniff(sample.splitlines()[0] if sample else ",", delimiters=",;\t").delimiter
    except csv.Error:
        sep = "\t" if path.suffix.lower() == ".tsv" else ","
    return pd.read_csv(path, sep=sep, encoding="utf-8-sig", low_memory=False)


def _column(frame: pd.DataFrame, role: str, names: tuple[str, ...], options: LoadOptions, required: bool) -> str | None:
    given = options.extra.get(f"{role}_column")
    if given is not None:
        if given not in frame.columns:
            raise InvalidInput(f"--option {role}_column={given}: no such column; the file has {', '.join(map(str, frame.columns[:20]))}")
        return str(given)
    lowered = {str(c).strip().lower(): c for c in frame.columns}
    for name in names:
        if name in lowered:
            return str(lowered[name])
    if required:
        raise InvalidInput(f"no {role} column (looked for {', '.join(names[:5])}, ...); name yours with --option {role}_column=NAME")
    return None


def _binary(values: pd.Series, column: str, path: Path) -> list[int]:
    text = values.astype(str).str.strip().str.lower()
    bad = ~text.isin(_TRUE | _FALSE)
    if bad.any():
        raise InvalidInput(f"{path}: column {column!r} must hold 0 or 1 (correct or not); found {values[bad].iloc[0]!r}")
    return text.isin(_TRUE).astype(int).tolist()


def _sequences(frame: pd.DataFrame, path: Path, options: LoadOptions, whole: bool = True) -> Dataset:
    """``whole``: the frame is the whole log (a part of a stream may hold no learner to keep)."""
    label = options.label if options.label and options.label in frame.columns else None
    if options.label and options.label != "correct" and label is None:
        raise InvalidInput(f"--label {options.label}: no such column; the file has {', '.join(map(str, frame.columns[:20]))}")
    names = {role: _column(frame, role, COLUMNS[role], options, role in ("learner", "skill")) for role in COLUMNS}
    names["correct"] = label or _column(frame, "correct", CORRECT, options, True)
    notes: list[str] = []
    needed = [names["learner"], names["skill"], names["correct"]]
    missing = frame[needed].isna().any(axis=1)
    if missing.any():
        notes.append(f"dropped {int(missing.sum())} answer(s) missing the learner, skill or correctness")
        frame = frame[~missing]
    frame = frame.assign(_correct=_binary(frame[names["correct"]], names["correct"], path))
    frame = _split_skills(frame, names["skill"], options.extra.get("skill_separator"))
    order = names["order"]
    if order:
        key = pd.to_numeric(frame[order], errors="coerce")
        if key.isna().mean() > 0.5:
            key = pd.to_datetime(frame[order], errors="coerce", utc=True, format="mixed")
        frame = frame.assign(_order=key).sort_values([names["learner"], "_order"], kind="stable")
    else:
        notes.append("no order or timestamp column: answers are taken in file order")
        frame = frame.sort_values(names["learner"], kind="stable")
    return _finish(_group(frame, names), path, options, notes, whole)


def _split_skills(frame: pd.DataFrame, column: str, separator: str | None) -> pd.DataFrame:
    text = frame[column].map(lambda v: str(int(v)) if isinstance(v, float) and v.is_integer() else str(v).strip())
    pattern = re.escape(separator) if separator else "|".join(re.escape(s) for s in SEPARATORS)
    parts = text.str.split(pattern, regex=True)
    if (parts.str.len() > 1).any():
        frame = frame.assign(_skill=parts).explode("_skill")
        frame["_skill"] = frame["_skill"].str.strip()
        return frame[frame["_skill"] != ""]
    return frame.assign(_skill=text)


def _group(frame: pd.DataFrame, names: dict[str, str | None]) -> pd.DataFrame:
    columns = {"skill": "_skill", "correct": "_correct"}
    for role in ("item", "attempts", "hints", "response_time"):
        if names[role]:
            columns[role] = names[role]  # type: ignore[assignment]
    grouped = frame.groupby(frame[names["learner"]].astype(str), sort=False)
    out = pd.DataFrame({"learner": list(grouped.groups)})
    for target, source in columns.items():
        values = grouped[source].agg(list)
        if target == "item":
            values = values.map(lambda v: [None if pd.isna(x) else str(int(x)) if isinstance(x, float) and x.is_integer() else str(x) for x in v])
        elif target not in ("skill", "correct"):
            values = values.map(lambda v: [None if pd.isna(x) else float(x) for x in v])
        out[target] = values.to_numpy()
    return out


def _finish(frame: pd.DataFrame, path: Path, options: LoadOptions, notes: list[str], whole: bool = True) -> Dataset:
    if frame.empty and whole:
        raise InvalidInput(f"{path}: no answers to read")
    if options.labelled:
        short = frame["correct"].map(len) < 2
        if short.any():
            notes.append(f"left out {int(short.sum())} learner(s) with fewer than two answers")
            frame = frame[~short].reset_index(drop=True)
        if frame.empty and whole:
            raise InvalidInput(f"{path}: no learner has two answers or more")
    frame = frame.assign(next_skill=None, next_item=None)
    labels = frame["correct"].map(list) if options.labelled else None
    if whole:  # a part's counts would read as the whole's
        notes.append(f"{len(frame)} learners, {int(frame['correct'].map(len).sum())} answers")
    return Dataset(frame.reset_index(drop=True), None if labels is None else labels.reset_index(drop=True), path, notes)
