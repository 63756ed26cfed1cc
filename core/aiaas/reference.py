"""The plugin API reference, generated from the code: every hook (signature, docstring with its
example) and every record field (type, default, the docstring under it), with which plugin in
this repository's ``plugins/`` uses each. ``aiaas plugin reference --out docs/plugin-reference.md``
writes it; a test fails when the committed page differs, or when a field has no docstring.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import MISSING, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiaas import PLUGIN_SURFACE, hookspecs, records

if TYPE_CHECKING:
    from aiaas.plugins import Host

RECORDS = (records.Task, records.LabelSchema, records.Label, records.SplitPolicy, records.OperatingPolicy, records.Quickstart,
           records.DataAdapter, records.Preprocessor, records.Postprocessor, records.Architecture, records.Explainer,
           records.InputCheck, records.Runtime)
NESTED = {"split": records.SplitPolicy, "operating_point": records.OperatingPolicy, "quickstart": records.Quickstart}


class Undocumented(Exception):
    pass


def field_docs() -> dict[str, dict[str, str]]:
    """record name -> field -> the docstring written under the field in records.py."""
    tree = ast.parse(Path(records.__file__).read_text(encoding="utf-8"))
    out: dict[str, dict[str, str]] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        docs = out.setdefault(node.name, {})
        for field_node, after in zip(node.body, node.body[1:]):
            if (isinstance(field_node, ast.AnnAssign) and isinstance(field_node.target, ast.Name) and isinstance(after, ast.Expr)
                    and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)):
                docs[field_node.target.id] = inspect.cleandoc(after.value.value)
    return out


def hook_specs() -> list[Any]:
    return [fn for name, fn in vars(hookspecs).items() if name.startswith("register_") and callable(fn)]


def _repo_plugins(host: Host) -> dict[str, Any]:
    """The loaded plugins whose code lives in this repository's plugins/ folder."""
    import sys

    root = Path(records.__file__).resolve().parents[2] / "plugins"
    found = {}
    for name, info in host.plugins.items():
        module = host.pm.get_plugin(name)
        path = getattr(module, "__file__", None) or getattr(sys.modules.get(getattr(module, "__name__", "")), "__file__", None)
        if info.status == "ok" and path and Path(path).resolve().is_relative_to(root):
            found[name] = module
    return found


def usage(host: Host) -> tuple[dict[str, list[str]], dict[tuple[str, str], list[str]]]:
    """Which of the repository's plugins implement each hook, and set each record field away from its default."""
    plugins = _repo_plugins(host)
    hooks = {spec.__name__: sorted(n for n in plugins if spec.__name__ in host.hooks_of(n)) for spec in hook_specs()}
    used: dict[tuple[str, str], set[str]] = {}

    def note(record: Any, plugin: str) -> None:
        for f in fields(record):
            value = getattr(record, f.name)
            default = f.default if f.default is not MISSING else (f.default_factory() if f.default_factory is not MISSING else MISSING)
            if value != default:
                used.setdefault((type(record).__name__, f.name), set()).add(plugin)
            if f.name in NESTED and value is not None:
                note(value, plugin)
        if isinstance(record, records.LabelSchema):
            for label in record.labels:
                note(label, plugin)

    c = host.components
    for (slot, key), owner in c.owner.items():
        if owner in plugins:
            note(getattr(c, slot)[key], owner)
    return hooks, {k: sorted(v) for k, v in used.items()}


def _type(annotation: Any) -> str:
    return str(annotation).replace("typing.", "").replace("|", "\\|")  # a bare | would end the table cell


def _default(f: Any) -> str:
    if f.default is not MISSING:
        return f"`{f.default!r}`" if not hasattr(f.default, "__dataclass_fields__") else f"`{type(f.default).__name__}()`"
    if f.default_factory is not MISSING:
        return f"`{f.default_factory()!r}`"
    return "required"


def _users(names: list[str]) -> str:
    return ", ".join(names) if names else "-"


def render(host: Host) -> str:
    """The reference page. Raises Undocumented naming every hook or field without a docstring."""
    docs, missing = field_docs(), []
    hooks_used, fields_used = usage(host)
    out = ["# Plugin API reference", "",
           f"Hook API version **{hookspecs.HOOK_API_VERSION}**. Generated from the code by "
           "`aiaas plugin reference --out docs/plugin-reference.md`; a test keeps this page equal to it.", "",
           "A plugin module declares `AIAAS_API` (the hook API versions it supports), implements hooks with "
           "`@aiaas.hookimpl`, and returns records from them. It may import `aiaas` and the kits: "
           + ", ".join(f"`{m}`" for m in PLUGIN_SURFACE) + ". \"Used by\" names the plugins in this repository's `plugins/`.", "",
           "## Hooks", ""]
    for spec in hook_specs():
        doc = inspect.getdoc(spec)
        if not doc:
            missing.append(f"hook {spec.__name__}")
            continue
        signature = str(inspect.signature(spec)).replace("'", "")
        out += [f"### `{spec.__name__}{signature}`", "", doc, "", f"Used by: {_users(hooks_used[spec.__name__])}", ""]
    out += ["## Records", "", "Frozen dataclasses, exported by `aiaas`. A `Ref` is the object itself or `\"package.module:attribute\"`, "
            "imported on first use (checked at load without importing it).", ""]
    for record in RECORDS:
        name = record.__name__
        out += [f"### `aiaas.{name}`", "", textwrap.dedent(inspect.getdoc(record) or "").strip(), "",
                "| field | type | default | meaning | used by |", "| --- | --- | --- | --- | --- |"]
        for f in fields(record):
            meaning = docs.get(name, {}).get(f.name)
            if not meaning:
                missing.append(f"{name}.{f.name}")
                continue
            out.append(f"| `{f.name}` | `{_type(f.type)}` | {_default(f)} | {' '.join(meaning.split()).replace('|', chr(92) + '|')} | "
                       f"{_users(fields_used.get((name, f.name), []))} |")
        out.append("")
    if missing:
        raise Undocumented(f"undocumented: {', '.join(missing)} (write a docstring under each field in aiaas/records.py)")
    return "\n".join(out).rstrip() + "\n"
