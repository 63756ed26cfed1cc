"""Which sentiment labels a data set has: three with a neutral class, else two."""

from __future__ import annotations

import pandas as pd

NEUTRAL = {"neutral", "3", "mixed"}


def choose_sentiment(labels: pd.Series) -> str:
    values = set(labels.dropna().astype(str).str.strip().str.lower())
    return "retail.sentiment3" if values & NEUTRAL or len(values) > 2 else "retail.sentiment2"


def sentiment_of(stars: pd.Series) -> pd.Series:
    """1-2 stars negative, 3 neutral, 4-5 positive."""
    return stars.map(lambda s: None if pd.isna(s) else "negative" if s <= 2 else "neutral" if s == 3 else "positive")
