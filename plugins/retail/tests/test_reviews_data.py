"""Reading reviews: formats, column names, cleaning, labels from stars, the label set from the data."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from aiaas import InvalidInput, LoadOptions
from aiaas_retail.adapters import load_for_rating, load_for_sentiment
from aiaas_retail.labels import choose_sentiment
from aiaas_retail.simulator import generate, write_sample


def test_csv_with_bom_entities_blanks_and_repeats(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes("\ufeffreview,stars,asin\n\"Great &amp; cheap &#39;n good<br />ok\",5,B1\n\"   \",1,B2\nsame text,2,B3\nSame text,4,B4\n"
                     "meh,3,B5\n".encode())
    data = load_for_sentiment(path, LoadOptions(label="sentiment"))
    assert list(data.records["text"]) == ["Great & cheap 'n good ok", "same text", "meh"]
    assert list(data.labels) == ["positive", "negative", "neutral"]  # from the stars: 1-2, 3, 4-5
    assert "rating" not in data.records and list(data.records["product_id"]) == ["B1", "B3", "B5"]
    assert any("blank" in n for n in data.notes) and any("repeated" in n for n in data.notes)


def test_uci_style_headerless_text_and_jsonl_and_named_columns(tmp_path: Path) -> None:
    txt = tmp_path / "amazon.txt"
    txt.write_text('Works "great", really.\t1\nBroke on day one.\t0\n')
    data = load_for_sentiment(txt, LoadOptions(label="label"))
    assert list(data.records["text"]) == ['Works "great", really.', "Broke on day one."] and list(data.labels) == ["1", "0"]
    assert choose_sentiment(data.labels) == "retail.sentiment2"

    jsonl = tmp_path / "r.jsonl"
    jsonl.write_text("\n".join(json.dumps({"body": f"review {i}", "summary": "t", "overall": s}) for i, s in enumerate([1, 3, 5])))
    rating = load_for_rating(jsonl, LoadOptions(label="rating"))
    assert list(rating.labels) == ["1", "3", "5"] and list(rating.records["title"]) == ["t", "t", "t"]

    csv = tmp_path / "own.csv"
    pd.DataFrame({"comment": ["good", "bad"], "verdict": ["positive", "negative"]}).to_csv(csv, index=False)
    named = load_for_sentiment(csv, LoadOptions(label="verdict", extra={"text_column": "comment"}))
    assert list(named.records["text"]) == ["good", "bad"] and choose_sentiment(named.labels) == "retail.sentiment2"


def test_clear_errors_name_the_column(tmp_path: Path) -> None:
    csv = tmp_path / "x.csv"
    pd.DataFrame({"words": ["a"], "rating": [3]}).to_csv(csv, index=False)
    with pytest.raises(InvalidInput, match="no text column.*--text-column"):
        load_for_sentiment(csv, LoadOptions(label="sentiment"))
    with pytest.raises(InvalidInput, match="no column 'review_body'"):
        load_for_sentiment(csv, LoadOptions(label="sentiment", extra={"text_column": "review_body"}))
    pd.DataFrame({"text": ["a"], "rating": [7]}).to_csv(csv, index=False)
    with pytest.raises(InvalidInput, match="ratings are whole stars 1-5"):
        load_for_rating(csv, LoadOptions(label="rating"))
    pd.DataFrame({"text": ["a", "b"]}).to_csv(csv, index=False)
    with pytest.raises(InvalidInput, match="no label column 'sentiment' and no rating column"):
        load_for_sentiment(csv, LoadOptions(label="sentiment"))


def test_sample_reviews_vary_and_follow_their_stars(tmp_path: Path) -> None:
    frame = generate(3000, seed=1)
    assert set(frame["category"]) >= {"electronics", "kitchen", "books", "clothing", "toys", "beauty"}
    assert frame["rating"].value_counts(normalize=True)[5] > 0.35 and frame["text"].nunique() > 2500
    positive = frame[frame["rating"] == 5]["text"].str.contains("love|excellent|perfect|amazing|fantastic", case=False).mean()
    negative = frame[frame["rating"] == 1]["text"].str.contains("love|excellent|perfect|amazing|fantastic", case=False).mean()
    assert positive > 0.5 > 0.15 > negative
    assert write_sample(tmp_path, 20, seed=0, format="jsonl").suffix == ".jsonl"
