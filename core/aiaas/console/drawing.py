"""An answer as pictures a person reads at a glance, from its shape alone (any task's answer):

- a list of records that each name something and carry a signed number (reason codes'
  contributions, the words of a review, a learner's answers' influence) becomes signed bars, and
  words are also highlighted in the text they came from (``highlighted``);
- a mapping of names to shares between 0 and 1 (mastery per skill), or records that each name
  something and carry a share (the recommended skills), becomes bars from 0 to 1;
- a share or probability becomes a meter;
- an image (a heatmap as base64 PNG) is shown as the image;
- the input check is shown as a verdict with its reasons; what is left is a list of facts, and
  anything else JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

NAMES = ("feature", "field", "token", "word", "skill", "name", "reason", "item", "label")
SIGNED = ("contribution", "attribution", "influence", "weight", "impact", "effect", "score", "value")


@dataclass
class Block:
    kind: str
    """bars, shares, meter, image, check, facts or json."""
    title: str
    items: list[Any] = field(default_factory=list)
    scale: float = 1.0


def blocks(answer: Any, title: str = "answer") -> list[Block]:
    if not isinstance(answer, dict):
        return [Block("json", title, [json.dumps(answer, indent=2)])]
    out: list[Block] = []
    facts = []
    for key, value in answer.items():
        label = key.replace("_", " ")
        if key == "input_check" and isinstance(value, dict):
            out.append(Block("check", "input check", [value]))
        elif _share(value) and any(w in key for w in ("probability", "prior", "confidence", "share", "risk")):
            out.append(Block("meter", label, [float(value)]))
        elif isinstance(value, str) and _image(value):
            out.append(Block("image", label, [value if value.startswith("data:") else f"data:image/png;base64,{value}"]))
        elif isinstance(value, dict) and value and all(_share(v) for v in value.values()):
            out.append(Block("shares", label, sorted(((str(k), float(v)) for k, v in value.items()), key=lambda kv: -kv[1])))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value) and _signed(value):
            name, number = _signed(value)
            items = [(str(v.get(name, i)), float(v[number]), _rest(v, name, number)) for i, v in enumerate(value)]
            out.append(Block("bars", f"{label} ({number})", items, max((abs(x) for _, x, _ in items), default=1.0) or 1.0))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value) and _shares(value):
            name, number = _shares(value)  # type: ignore[misc]
            out.append(Block("shares", f"{label} ({number})", [(str(v[name]), float(v[number])) for v in value]))
        elif isinstance(value, (dict, list)):
            nested = [b for b in blocks(value, label)] if isinstance(value, dict) else [Block("json", label, [json.dumps(value, indent=2)])]
            out.extend(nested)
        else:
            facts.append((label, value))
    if facts:
        out.insert(0, Block("facts", title, facts))
    return out


def _share(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= float(value) <= 1.0


def _image(value: str) -> bool:
    return value.startswith(("data:image/png;base64,", "iVBORw0KGgo")) and len(value) > 100


def _signed(rows: list[dict[str, Any]]) -> tuple[str, str] | None:
    """The field that names each row and the signed number each carries, when every row has both."""
    name = next((n for n in NAMES if all(n in r for r in rows)), None)
    number = next((n for n in SIGNED if all(isinstance(r.get(n), (int, float)) and not isinstance(r.get(n), bool) for r in rows)), None)
    return (name or "index", number) if number else None


def highlighted(text: str, block: Block) -> list[tuple[str, str]]:
    """``text`` cut into (piece, class): each word a signed-bars block weighs (a review's words) gets a class
    by its sign and strength (up-1..3, down-1..3), so the words that drove the answer show in place."""
    import re

    weights = {name.lower(): value for name, value, _ in block.items}
    out = []
    for piece in re.split(r"(\w+)", text):
        value = weights.get(piece.lower())
        strength = 0 if value is None else min(3, 1 + int(3 * abs(value) / block.scale))
        out.append((piece, "" if value is None or value == 0 else f"{'up' if value > 0 else 'down'}-{strength}"))
    return out


def _shares(rows: list[dict[str, Any]]) -> tuple[str, str] | None:
    """The field that names each row and a share between 0 and 1 each carries (a recommended skill's mastery)."""
    name = next((n for n in NAMES if all(n in r for r in rows)), None)
    share = next((k for k in rows[0] if k != name and all(_share(r.get(k)) for r in rows)), None)
    return (name, share) if name and share else None


def _rest(row: dict[str, Any], *shown: str) -> str:
    return ", ".join(f"{k} {v}" for k, v in row.items() if k not in shown and not isinstance(v, (dict, list)))
