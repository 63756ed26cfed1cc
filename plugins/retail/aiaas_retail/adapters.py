"""Review files -> review records: CSV, TSV (or a headerless ``text<TAB>label`` .txt, as
the UCI sentiment sets), JSONL.

Columns are found by name, or named with ``--text-column`` and ``--option
title_column=/rating_column=/product_column=/date_column=``; the label is the core's
``--label``. Texts are cleaned (HTML entities decoded, tags dropped, whitespace
collapsed); blank texts are dropped, and so are repeated texts, before the split,
so no review sits in both training and test data (the notes say how many). A file
to score must have text in every row.

Sentiment: the label column holds negative/neutral/positive, 0/1, or stars; with
no label column, the rating column gives it (1-2 negative, 3 neutral, 4-5 positive).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from aiaas import Dataset, InvalidInput, LoadOptions
from aiaas.text import clean
from aiaas.tables import delimiter
from aiaas_retail.labels import sentiment_of

ROLES = {  # record column -> (option naming the file's column, names tried when it is not given)
    "text": ("text_column", ("text", "review", "review_text", "body", "content", "reviewtext")),
    "title": ("title_column", ("title", "summary", "headline", "review_title")),
    "rating": ("rating_column", ("rating", "stars", "star_rating", "score", "overall")),
    "product_id": ("product_column", ("product_id", "asin", "product", "item_id")),
    "date": ("date_column", ("date", "review_date", "timestamp", "time")),
}


def read_reviews(path: Path, options: LoadOptions) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix in (".jsonl", ".json"):
            frame = pd.read_json(path, lines=suffix == ".jsonl", encoding="utf-8-sig", dtype=False)
        elif suffix == ".txt" or str(options.extra.get("header", "")).lower() in ("none", "false", "no"):
            frame = pd.read_csv(path, sep="\t", header=None, quoting=csv.QUOTE_NONE, encoding="utf-8-sig", dtype=str,
                                on_bad_lines="skip", names=["text", "label"], usecols=[0, 1])
        else:
            frame = pd.read_csv(path, sep=delimiter(path), encoding="utf-8-sig", dtype=str, keep_default_na=False,
                                na_values=[""])
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: cannot be read as reviews ({exc})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise InvalidInput(f"{path}: has no rows")
    return frame


def _column(frame: pd.DataFrame, role: str, options: LoadOptions) -> str | None:
    option, names = ROLES[role]
    named = options.extra.get(option)
    if named:
        if named not in frame.columns:
            raise InvalidInput(f"no column {named!r} (--option {option}); the columns are {', '.join(frame.columns)}")
        return str(named)
    lowered = {c.lower(): c for c in frame.columns}
    return next((lowered[n] for n in names if n in lowered), None)


def _stars(values: pd.Series, path: Path, column: str) -> pd.Series:
    stars = pd.to_numeric(values, errors="coerce")
    bad = values.notna() & (stars.isna() | ~stars.isin([1, 2, 3, 4, 5]))
    if bad.any():
        raise InvalidInput(f"{path}: rating column {column!r} has {values[bad].iloc[0]!r}; ratings are whole stars 1-5")
    return stars.astype("Int64")


def load_reviews(path: Path, options: LoadOptions, target: str) -> Dataset:
    """``target``: "sentiment" or "rating", which decides where a missing label comes from."""
    frame = read_reviews(path, options)
    text = _column(frame, "text", options)
    if text is None:
        raise InvalidInput(f"{path}: no text column; the columns are {', '.join(frame.columns)}; name it with --text-column")
    records = pd.DataFrame({"text": frame[text].fillna("").astype(str).map(clean)})
    used = {text}
    for role in ("title", "rating", "product_id", "date"):
        column = _column(frame, role, options)
        if column is not None and column not in used:
            used.add(column)
            records[role] = _stars(frame[column], path, column) if role == "rating" else frame[column].where(frame[column].notna(), None)
    if "title" in records:
        records["title"] = records["title"].fillna("").astype(str).map(clean)
    label_name = options.label if options.label and options.label in frame.columns else None
    if "rating" in records and label_name is not None and _column(frame, "rating", options) == label_name:
        records = records.drop(columns=["rating"])  # the rating task's label is the rating column, not also an input
    for column in frame.columns:  # the file's other columns ride along (offline scoring writes them back)
        if column not in used and column != label_name and column not in records:
            records[column] = frame[column]
    labels = frame[label_name] if label_name else None
    if labels is None and options.labelled and "rating" in records:  # the stars are the label; not also an input
        stars = records.pop("rating")
        labels = sentiment_of(stars) if target == "sentiment" else stars.astype("string")
    elif labels is not None and target == "sentiment":
        labels = _stars_to_sentiment(labels)
    if options.labelled and labels is None:
        raise InvalidInput(f"{path}: no label column {options.label!r} and no rating column to derive it from; "
                           f"the columns are {', '.join(frame.columns)}; name yours with --label")
    keep = records["text"].str.len() > 0
    if not options.labelled and not keep.all():  # scoring answers every row, so a blank one is refused, as the API does
        row = int((~keep).to_numpy().argmax())
        raise InvalidInput(f"{path}: row {row + 2} has no text ({int((~keep).sum())} such row(s)); every review to score needs text")
    notes = []
    if (~keep).any():
        notes.append(f"dropped {int((~keep).sum())} blank review(s)")
    if options.labelled:
        keep &= labels.notna().to_numpy()
        repeated = records["text"].str.lower().duplicated() & keep
        if repeated.any():
            notes.append(f"dropped {int(repeated.sum())} repeated review text(s) so that none is in two splits")
        keep &= ~repeated
    if not keep.any():
        raise InvalidInput(f"{path}: no review has text{' and a label' if options.labelled else ''}")
    records = records[keep.to_numpy()].reset_index(drop=True)
    labels = labels[keep.to_numpy()].reset_index(drop=True) if labels is not None and options.labelled else None
    return Dataset(records, labels, path, notes)


def _stars_to_sentiment(labels: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(labels, errors="coerce")
    if numbers.notna().all() and numbers.isin([1, 2, 3, 4, 5]).all() and numbers.isin([2, 3, 4, 5]).any():
        return sentiment_of(numbers)
    return labels


def load_for_sentiment(path: Path, options: LoadOptions) -> Dataset:
    return load_reviews(path, options, "sentiment")


def load_for_rating(path: Path, options: LoadOptions) -> Dataset:
    return load_reviews(path, options, "rating")
