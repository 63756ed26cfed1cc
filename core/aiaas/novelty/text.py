"""Checks for text: how many of its words the training texts had, whether it has any
words at all, and whether it is in the training texts' language (py3langid, a small
offline identifier of 97 languages whose model is numpy arrays, not a pickle)."""

from __future__ import annotations

import re
import threading
from collections import Counter
from typing import Any

import numpy as np

from aiaas.novelty.base import Sample, Scores
from aiaas.state import State
from aiaas.text import clean, documents

WORD = re.compile(r"[^\W\d_]+")
"""Runs of letters in any script (a Japanese sentence without spaces is one run)."""
MIN_LETTERS = 12
"""Shorter texts say too little for a language to be told."""


def _words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def _texts(sample: Sample) -> list[str]:
    return [clean(t) for t in documents(sample.records)]


class KnownWords:
    """The share of a text's words that training texts had (words seen at least twice,
    so one-off typos do not count as known). A text with no words at all (emoji,
    symbols, digits) is flagged outright."""

    floor = 0.5

    def fit(self, sample: Sample) -> State | None:
        if "text" not in sample.records:
            return None
        counts = Counter(w for t in _texts(sample) for w in set(_words(t)))
        known = sorted(w for w, n in counts.items() if n >= 2) or sorted(counts)
        return State({"words": known}) if known else None

    def score(self, sample: Sample, state: State) -> Scores:
        known = _known(state)
        texts = _texts(sample)
        shares = np.ones(len(texts))
        empty = np.zeros(len(texts), dtype=bool)
        for i, text in enumerate(texts):
            words = _words(text)
            if words:
                shares[i] = sum(w in known for w in words) / len(words)
            else:
                empty[i], shares[i] = True, 0.0

        def reason(i: int) -> str:
            return "no words (only symbols, digits or emoji)" if empty[i] else f"{shares[i]:.0%} of its words are known from training"

        return Scores(1 - shares, reason, empty)


_KNOWN: dict[int, tuple[Any, frozenset[str]]] = {}


def _known(state: State) -> frozenset[str]:
    cached = _KNOWN.get(id(state))
    if cached is None or cached[0] is not state:
        cached = (state, frozenset(state.meta["words"]))
        _KNOWN[id(state)] = cached
    return cached[1]


_identifier: Any = None
_lock = threading.Lock()


def identifier() -> Any:
    """py3langid's identifier with probabilities, loaded once (about 0.3 s)."""
    global _identifier
    with _lock:
        if _identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _identifier


def languages(text: str) -> dict[str, float]:
    """Probability of each language, for text long enough to tell; empty otherwise."""
    letters = sum(ch.isalpha() for ch in text)
    if letters < MIN_LETTERS:
        return {}
    return dict(identifier().rank(text))


class Language:
    """Whether a text is in a language of the training texts: the languages that
    identify at least 5% of them. The score is the probability of the other languages,
    weighted by how long the text is (a short text is easily misread)."""

    floor = 0.5

    def warm(self) -> None:
        identifier()

    def fit(self, sample: Sample) -> State | None:
        if "text" not in sample.records:
            return None
        found = Counter(max(p, key=p.get) for p in map(languages, _texts(sample)[:2000]) if p)
        total = sum(found.values())
        if not total:
            return None
        kept = sorted(lang for lang, n in found.items() if n >= 0.05 * total) or [found.most_common(1)[0][0]]
        return State({"languages": kept, "shares": {lang: round(found[lang] / total, 4) for lang in kept}})

    def score(self, sample: Sample, state: State) -> Scores:
        kept = set(state.meta["languages"])
        texts = _texts(sample)
        scores, best = np.zeros(len(texts)), [""] * len(texts)
        for i, text in enumerate(texts):
            p = languages(text)
            if p:
                letters = sum(ch.isalpha() for ch in text)
                scores[i] = (1 - sum(p.get(lang, 0.0) for lang in kept)) * min(1.0, letters / 60)
                best[i] = max(p, key=p.get)

        def reason(i: int) -> str:
            return f"language {best[i]}, the model was trained on {'/'.join(sorted(kept))}"

        return Scores(scores, reason)
