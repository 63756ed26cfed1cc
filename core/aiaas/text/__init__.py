"""What any text task shares: the document a record holds, a word tokenizer, the
``text-vocab`` preprocessor (a vocabulary fitted on the training split, saved as
JSON), and token attributions (``aiaas.explainers.tokens``).

A text record has a ``text`` column and, optionally, a ``title``; a preprocessor
reads the title and the text as one document.
"""

from __future__ import annotations

import html
import re

import pandas as pd

_TAGS = re.compile(r"<[^>]{1,40}>")
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[!?]")


def clean(text: str) -> str:
    """HTML entities decoded, tags (``<br />``) dropped, whitespace collapsed."""
    return _SPACE.sub(" ", _TAGS.sub(" ", html.unescape(str(text)))).strip()


def documents(records: pd.DataFrame) -> list[str]:
    texts = records["text"].fillna("").astype(str)
    if "title" in records.columns:
        titles = records["title"].fillna("").astype(str)
        return [f"{t}. {x}" if t.strip() else x for t, x in zip(titles, texts)]
    return texts.tolist()


def words(document: str) -> list[str]:
    """Lower-cased words, numbers and contractions; ! and ? kept (they carry sentiment)."""
    return _WORD.findall(document.lower())
