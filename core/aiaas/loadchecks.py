"""What the host checks when a plugin loads, so an author's mistake is one line at load
rather than a traceback after an epoch, or a server that dies at start-up:

- a function named like a hook but not marked ``@aiaas.hookimpl`` (aiaas would never call it),
  and a marked function whose name is no hook (a misspelling);
- every ``module:attribute`` a record names exists, found without importing the module
  (a builder's module may import torch): the module is located and its source read for the name;
- metric names a task lists are ones aiaas computes;
- an architecture parameter that is a near-miss of a trainer parameter (``learning_rte``);
- the plugin's ``AIAAS_API`` range includes this host's hook API version.

Each check returns one line naming the record and the field, or None.
"""

from __future__ import annotations

import difflib
import importlib.machinery
import importlib.util
import re
import sys
from dataclasses import fields
from functools import lru_cache
from typing import Any

from aiaas.records import METRIC_NAMES, REF_FIELDS, Architecture, Task

HOOK_PREFIX = "register_"


def _suggest(name: str, known: Any) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
    return f"; did you mean {close[0]!r}?" if close else ""


def api_problem(plugin: Any, name: str) -> tuple[str, str | None]:
    """The hook API range a plugin declares (``AIAAS_API``), and why it cannot load here, or None."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    from aiaas import deprecations
    from aiaas.hookspecs import HOOK_API_VERSION

    declared = getattr(plugin, "AIAAS_API", None)
    if declared is None:
        deprecations.warn(deprecations.UNDECLARED_API, prefix=f"plugin {name}: ")
        declared = deprecations.ASSUMED_API
    try:
        supported = SpecifierSet(str(declared))
    except InvalidSpecifier:
        return str(declared), f"AIAAS_API={declared!r} is not a version range (e.g. '>=1.1,<2')"
    if HOOK_API_VERSION not in supported:
        return str(declared), f"built for hook API {declared}, but this aiaas provides hook API {HOOK_API_VERSION}"
    return str(declared), None


def hook_problem(plugin: Any, hooks: set[str]) -> str | None:
    for attr in sorted(dir(plugin)):
        if attr.startswith("__"):
            continue
        value = getattr(plugin, attr, None)
        if not callable(value):
            continue
        marked = hasattr(value, "aiaas_impl")
        if not marked and attr in hooks:
            return f"{attr} is not marked @aiaas.hookimpl, so aiaas never calls it"
        if attr in hooks or not (marked or attr.startswith(HOOK_PREFIX)):
            continue
        suggestion = _suggest(attr, hooks)
        if marked:
            return f"{attr} is marked @aiaas.hookimpl but no hook has that name{suggestion}"
        if suggestion:
            return f"{attr} is no hook{suggestion}"
    return None


def _locate(module_name: str) -> Any:
    """A module's spec, found without importing its packages (``find_spec`` would run their
    ``__init__``, which may import pandas or torch): the top-level package, then path by path."""
    parts = module_name.split(".")
    spec = importlib.util.find_spec(parts[0])
    for i in range(1, len(parts)):
        if spec is None or not spec.submodule_search_locations:
            return None
        spec = importlib.machinery.PathFinder.find_spec(".".join(parts[: i + 1]), list(spec.submodule_search_locations))
    return spec


_DEFINED = re.compile(r"^(?:async\s+def|def|class)\s+(\w+)|^(\w+)\s*(?::[^=\n]*)?=(?!=)", re.M)
_IMPORTED = re.compile(r"^(?:from\s+[\w.]+\s+)?import\s+(\([^)]*\)|[^\n]+)", re.M)
_CONDITIONAL = re.compile(r"^(?:if|try|for|while|with)\b", re.M)


@lru_cache(maxsize=512)
def _top_level_names(module_name: str) -> frozenset[str] | None:
    """Names a module defines at top level, read from its source with patterns (parsing every
    plugin module would cost start-up time); None when there is no source, or it makes names
    under conditions (then the name is trusted)."""
    spec = _locate(module_name)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    with open(spec.origin, encoding="utf-8") as source:
        text = source.read()
    if _CONDITIONAL.search(text):
        return None
    names = {a or b for a, b in _DEFINED.findall(text)}
    for group in _IMPORTED.findall(text):
        for part in group.strip("()").replace("\n", " ").split(","):
            words = part.split()
            if words and words[0] != "*":
                names.add(words[-1].split(".")[0])
    return frozenset(names)


def reference_problem(ref: str) -> str | None:
    """Why ``module:attribute`` does not resolve, found without importing the module (None: it does)."""
    module_name, _, attr = ref.partition(":")
    first = attr.split(".")[0]
    module = sys.modules.get(module_name)
    if module is not None:
        return None if hasattr(module, first) else f"module {module_name} has no {first!r}{_suggest(first, dir(module))}"
    try:
        spec = _locate(module_name)
    except (ImportError, ValueError) as exc:
        return f"module {module_name} cannot be found ({type(exc).__name__}: {exc})"
    if spec is None:
        return f"no module named {module_name!r}"
    try:
        names = _top_level_names(module_name)
    except (OSError, UnicodeDecodeError) as exc:
        return f"module {module_name} cannot be read ({type(exc).__name__}: {exc})"
    if names is not None and first not in names and "__getattr__" not in names:
        return f"module {module_name} has no {first!r}{_suggest(first, names)}"
    return None


def record_problem(record: Any) -> str | None:
    """One line naming the field of ``record`` that cannot work, or None."""
    for f in fields(record):
        value = getattr(record, f.name)
        if f.name in REF_FIELDS and isinstance(value, str):
            problem = reference_problem(value)
            if problem:
                return f"{f.name}={value!r}: {problem}"
    if isinstance(record, Task):
        unknown = [m for m in record.metrics if m not in METRIC_NAMES]
        if unknown:
            return f"metrics: {unknown[0]!r} is not a metric aiaas computes{_suggest(unknown[0], METRIC_NAMES)}"
    if isinstance(record, Architecture):
        from aiaas.runtimes.base import FIT_PARAMS

        for name in record.params:
            suggestion = "" if name in FIT_PARAMS else _suggest(name, FIT_PARAMS)
            if suggestion:
                return f"params: {name!r} is not a trainer parameter{suggestion} (trainer parameters: {', '.join(sorted(FIT_PARAMS))})"
    return None
