"""The console's "Try it": a form made from the served version's own input schema, and its answer drawn.

Any task gets a form from its JSON schema alone: numbers and whole numbers, allowed values as a
list to pick from, yes/no, text (a text box for long text), lists and objects as JSON, and a file
field for a task that takes uploads. The form's post is turned into one instance and sent through
the task's own ``/predict`` route in-process, explanation asked for (its validation, input checks, batching and model), so
what the page shows is what the API answers; the viewer's key was checked for the task before.

The answer is drawn where its shape is known (``aiaas.console.drawing``) and shown as JSON
otherwise.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import httpx

TEXT_BOX = 1000
"""A string field with room for more than this many characters is a text box."""


@dataclass
class FormField:
    name: str
    kind: str
    """number, integer, boolean, choice, text, textbox or json."""
    required: bool
    description: str = ""
    choices: list[Any] = field(default_factory=list)
    value: str = ""
    minimum: float | None = None
    maximum: float | None = None


def form_fields(schema: dict[str, Any], example: dict[str, Any] | None = None) -> list[FormField]:
    """The fields of an instance's JSON schema, in its order, filled with ``example``'s values."""
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    out = []
    for name, spec in schema.get("properties", {}).items():
        spec = _resolved(spec, defs)
        kinds = [_resolved(s, defs) for s in spec.get("anyOf", [spec])]
        present = [s for s in kinds if s.get("type") != "null"] or [{}]
        first = present[0]
        kind = _kind(first, present)
        value = (example or {}).get(name, spec.get("default"))
        shown = "" if value is None else (json.dumps(value) if kind == "json" else str(value).lower() if kind == "boolean" else str(value))
        out.append(FormField(name, kind, name in required, spec.get("description", ""), list(first.get("enum", [])), shown,
                             first.get("minimum", first.get("ge")), first.get("maximum", first.get("le"))))
    return out


def _resolved(spec: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = spec.get("$ref")
    return defs.get(ref.rsplit("/", 1)[-1], {}) if isinstance(ref, str) else spec


def _kind(first: dict[str, Any], present: list[dict[str, Any]]) -> str:
    types = {s.get("type") for s in present}
    if "enum" in first:
        return "choice"
    if types <= {"number", "integer"} and types:
        return "integer" if types == {"integer"} else "number"
    if types == {"boolean"}:
        return "boolean"
    if types <= {"string"} and types:
        return "textbox" if (first.get("maxLength") or 10**9) > TEXT_BOX and first.get("format") != "date-time" else "text"
    return "json"  # lists, objects, and unions of several kinds (a skill: text or a number)


def instance(fields: list[FormField], form: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """One instance from the form's values; the problems a person can fix (a field that is not JSON)."""
    out: dict[str, Any] = {}
    problems = []
    for f in fields:
        raw = str(form.get(f.name, "")).strip()
        if raw == "":
            continue  # left out: the schema says whether it may be (a 422 names it otherwise)
        if f.kind == "number":
            out[f.name] = _number(raw, float, f, problems)
        elif f.kind == "integer":
            out[f.name] = _number(raw, int, f, problems)
        elif f.kind == "boolean":
            out[f.name] = raw == "true"
        elif f.kind == "choice":
            out[f.name] = next((c for c in f.choices if str(c) == raw), raw)
        elif f.kind == "json":
            try:
                out[f.name] = json.loads(raw)
            except ValueError as exc:
                problems.append(f"{f.name}: not JSON ({exc.msg} at character {exc.pos})")
        else:
            out[f.name] = raw
    return out, problems


def _number(raw: str, kind: type, f: FormField, problems: list[str]) -> Any:
    """A number field's value (a whole number may be written 3.0); a problem named for anything else."""
    if kind is int and raw.lstrip("+-").isdigit():
        return int(raw)  # exactly, however long (the API's own check bounds it)
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or (kind is int and not value.is_integer()):
        problems.append(f"{f.name}: {raw!r} is not a {'whole ' if kind is int else ''}number")
        return None
    return int(value) if kind is int else value


async def answer(app: Any, task: str, caller: Any, body: dict[str, Any] | None = None,
                 files: list[tuple[str, bytes, str]] | None = None) -> tuple[int, Any]:
    """The task's ``/predict`` answer, with its explanation, for one instance (JSON ``body`` or uploaded
    ``files``), asked in-process of the app (past the bearer-key check: the console checked the viewer's scope)."""

    from aiaas.serving.access import IN_PROCESS

    async def service(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await app({**scope, IN_PROCESS: caller}, receive, send)  # the whole request path, past the bearer-key check

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=service), base_url="http://console") as client:
        if files is not None:
            response = await client.post(f"/v1/{task}/predict", files=[("files", f) for f in files])
        else:
            response = await client.post(f"/v1/{task}/predict", json={"instances": [body], "explain": True})
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, {"detail": response.text[:500]}
