"""Seeded product reviews with star ratings, across several product categories.

Each review has a true rating (skewed towards 5, as real shops are) and one to
four sentences about the product's aspects. Each sentence's tone is drawn around
the rating, so a 4-star review may grumble about shipping and a 2-star one may
praise the price; negations ("not bad at all"), intensifiers, contrasts ("but"),
exclamation marks, lower-case and typos vary the surface. Titles echo the tone.
About 1% of texts repeat, some are blank and some carry HTML entities, as scraped
data does, so the cleaning is exercised.

``write_sample(out, rows, seed)`` writes ``out/reviews.csv`` with review_id,
product_id, category, title, text, rating, date (and ``format="jsonl"`` or ``"tsv"``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

CATEGORIES: dict[str, dict[str, list[str]]] = {
    "electronics": {"items": ["headphones", "charger", "phone case", "bluetooth speaker", "keyboard", "webcam"],
                    "aspects": ["the sound", "the battery life", "the build quality", "the connection", "the setup", "the buttons"]},
    "kitchen": {"items": ["blender", "knife set", "coffee maker", "frying pan", "kettle", "toaster"],
                "aspects": ["the blades", "the handle", "cleaning it", "the heat", "the lid", "the finish"]},
    "books": {"items": ["novel", "cookbook", "biography", "travel guide", "thriller", "children's book"],
              "aspects": ["the story", "the writing", "the characters", "the ending", "the pictures", "the binding"]},
    "clothing": {"items": ["jacket", "running shoes", "t-shirt", "jeans", "sweater", "rain coat"],
                 "aspects": ["the fit", "the fabric", "the stitching", "the colour", "the sizing", "the zipper"]},
    "toys": {"items": ["puzzle", "building set", "doll", "board game", "toy car", "plush bear"],
             "aspects": ["the pieces", "the instructions", "the paint", "how long it lasts", "the box", "the fun factor"]},
    "beauty": {"items": ["face cream", "shampoo", "lipstick", "hair dryer", "perfume", "sunscreen"],
               "aspects": ["the smell", "the texture", "the packaging", "how it feels on skin", "the results", "the bottle"]},
}
GENERAL = ["the price", "the shipping", "customer service", "the value for money", "the quality", "the delivery"]

TONE = {  # tone -2..2 -> sentence templates; {a} an aspect, {i} the item
    2: ["{a} is absolutely perfect", "I love {a}", "{a} exceeded my expectations", "{a} is fantastic, highly recommend",
        "best {i} I have ever owned", "{a} is amazing", "{a} is excellent and worth every penny", "{a} is not bad at all, actually great"],
    1: ["{a} is pretty good", "{a} does the job", "happy with {a}", "{a} works well", "{a} is nice", "{a} is solid for the money",
        "no complaints about {a}"],
    0: ["{a} is okay", "{a} is average", "{a} is nothing special", "{a} is fine i guess", "{a} could be better but it's acceptable",
        "not sure about {a} yet", "{a} is as described, neither good nor bad"],
    -1: ["{a} is a bit disappointing", "{a} is not great", "{a} could be much better", "{a} feels cheap", "not happy with {a}",
         "{a} is mediocre at best"],
    -2: ["{a} is terrible", "{a} broke after two days", "complete waste of money", "{a} is awful, do not buy", "I hate {a}",
         "{a} is the worst", "returned it because {a} is useless", "{a} is not good at all"],
}
TITLES = {5: ["Love it!", "Excellent", "Five stars", "Highly recommend", "Perfect {i}"],
          4: ["Very good", "Happy with it", "Good {i}", "Solid purchase"],
          3: ["It's okay", "Average", "Mixed feelings", "Decent {i}"],
          2: ["Disappointed", "Not great", "Expected more", "Meh {i}"],
          1: ["Terrible", "Do not buy", "Waste of money", "Broken {i}"]}
CENTER = {1: -2.0, 2: -1.2, 3: 0.0, 4: 1.1, 5: 1.8}
STARS_P = [0.1, 0.08, 0.12, 0.25, 0.45]


def _typo(word: str, rng: np.random.Generator) -> str:
    if len(word) < 4:
        return word
    i = int(rng.integers(1, len(word) - 1))
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def review(rng: np.random.Generator, stars: int, category: str) -> tuple[str, str, str]:
    """(item, title, text) for one review of ``stars``."""
    spec = CATEGORIES[category]
    item = spec["items"][rng.integers(len(spec["items"]))]
    sentences = []
    for _ in range(int(rng.integers(1, 5))):
        tone = int(np.clip(np.round(rng.normal(CENTER[stars], 0.8)), -2, 2))
        aspect = (spec["aspects"] + GENERAL)[rng.integers(len(spec["aspects"]) + len(GENERAL))]
        template = TONE[tone][rng.integers(len(TONE[tone]))]
        sentence = template.format(a=aspect, i=item)
        if rng.random() < 0.15 and sentences:
            sentence = "but " + sentence
        sentences.append(sentence[0].upper() + sentence[1:])
    text = ". ".join(sentences) + ("!" if stars in (1, 5) and rng.random() < 0.4 else ".")
    if rng.random() < 0.2:
        text = f"Bought this {item} {['last week', 'a month ago', 'for my son', 'as a gift', 'on sale'][rng.integers(5)]}. " + text
    if rng.random() < 0.1:
        text = text.lower()
    if rng.random() < 0.15:
        words = text.split(" ")
        j = int(rng.integers(len(words)))
        words[j] = _typo(words[j], rng)
        text = " ".join(words)
    if rng.random() < 0.03:
        text = text.replace(" and ", " &amp; ").replace("'", "&#39;")
    if rng.random() < 0.5:
        return item, "", text
    echoed = int(np.clip(stars + rng.choice([-1, 0, 0, 0, 1]), 1, 5))  # titles are terse and not always in step
    return item, TITLES[echoed][rng.integers(len(TITLES[echoed]))].format(i=item), text


def generate(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    categories = list(CATEGORIES)
    stars = rng.choice([1, 2, 3, 4, 5], size=rows, p=STARS_P)
    chosen = rng.choice(categories, size=rows)
    products = {c: [f"B0{rng.integers(16**8):08X}" for _ in range(12)] for c in categories}
    data = []
    start = pd.Timestamp("2024-01-01")
    for i in range(rows):
        _, title, text = review(rng, int(stars[i]), str(chosen[i]))
        if data and rng.random() < 0.01:
            text = data[int(rng.integers(len(data)))]["text"]  # a repeated text, as copy-pasted reviews are
        if rng.random() < 0.005:
            text = "   "
        data.append({"review_id": f"R{i:06d}", "product_id": products[str(chosen[i])][rng.integers(12)], "category": str(chosen[i]),
                     "title": title, "text": text, "rating": int(stars[i]),
                     "date": (start + pd.Timedelta(days=int(rng.integers(0, 700)))).date().isoformat()})
    return pd.DataFrame(data)


def write_sample(out: Path, rows: int, seed: int = 0, format: str | None = None) -> Path:
    """The reviews as CSV, TSV or JSON lines: ``out`` is the file (its suffix names the format), or a
    folder to write reviews.csv (or the ``format`` given) in."""
    out = Path(out)
    suffix = out.suffix.lower().lstrip(".")
    format = format or (suffix if suffix in ("csv", "tsv", "jsonl") else "csv")
    if format not in ("csv", "tsv", "jsonl"):
        raise ValueError(f"format must be csv, tsv or jsonl, not {format!r}")
    frame = generate(rows, seed)
    path = out if suffix in ("csv", "tsv", "jsonl") else out / f"reviews.{format}"
    path.parent.mkdir(parents=True, exist_ok=True)
    if format == "jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_csv(path, index=False, sep="\t" if format == "tsv" else ",")
    return path
