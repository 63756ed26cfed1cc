"""Plugin discovery: entry points of the group ``aiaas`` plus the core's defaults.

A plugin that fails to import, raises in a hook or returns an invalid record is
set aside with the reason; the host starts with the rest. A name registered twice
is refused for the second plugin, naming both.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import pluggy

from aiaas import __version__, hookspecs
from aiaas.errors import NoModel, NotFound, UserError
from aiaas.records import (
    ANY_TASK,
    AUTO,
    COMPONENT_NAME,
    RECORD_TYPES,
    REF_FIELDS,
    REF_PATH,
    TASK_NAME,
    Architecture,
    DataAdapter,
    Explainer,
    InputCheck,
    LabelSchema,
    Postprocessor,
    Preprocessor,
    Runtime,
    Task,
)

DEFAULT_PLUGINS = (
    "aiaas.default_plugins.runtimes",
    "aiaas.default_plugins.explainers",
    "aiaas.default_plugins.processors",
    "aiaas.default_plugins.architectures",
    "aiaas.default_plugins.input_checks",
)


@dataclass
class PluginInfo:
    name: str
    distribution: str | None
    version: str | None
    status: Literal["ok", "failed", "disabled"] = "ok"
    reason: str | None = None
    api: str | None = None  # the hook API range it declares (AIAAS_API)
    registered: dict[str, list[str]] = field(default_factory=dict)
    tasks: list[str] = field(default_factory=list)
    """Set aside: the tasks it provides, as far as they could be learned (none when its import failed)."""


class InvalidRecord(Exception):
    pass


class PluginSetAside(NoModel):
    """A task whose plugin was set aside at load (its import failed, it needs another hook API): answered as 503."""


def _declared_tasks(module: Any) -> list[str]:
    """The task names a plugin that will not be registered says it provides, if its ``register_tasks`` can tell."""
    hook = getattr(module, "register_tasks", None)
    try:
        return sorted(t.name for t in (hook() or ()) if isinstance(getattr(t, "name", None), str)) if callable(hook) else []
    except Exception:  # it is being set aside already; its tasks are only named for the error
        return []


@dataclass
class Components:
    """Everything the plugins registered, keyed by name, with the plugin that gave it."""

    tasks: dict[str, Task] = field(default_factory=dict)
    label_schemas: dict[str, LabelSchema] = field(default_factory=dict)
    adapters: dict[str, DataAdapter] = field(default_factory=dict)
    preprocessors: dict[str, Preprocessor] = field(default_factory=dict)
    postprocessors: dict[str, Postprocessor] = field(default_factory=dict)
    architectures: dict[tuple[str, str, str], Architecture] = field(default_factory=dict)
    explainers: dict[str, Explainer] = field(default_factory=dict)
    runtimes: dict[str, Runtime] = field(default_factory=dict)
    input_checks: dict[str, InputCheck] = field(default_factory=dict)
    owner: dict[tuple[str, Any], str] = field(default_factory=dict)


_SLOT = {
    Task: "tasks",
    LabelSchema: "label_schemas",
    DataAdapter: "adapters",
    Preprocessor: "preprocessors",
    Postprocessor: "postprocessors",
    Architecture: "architectures",
    Explainer: "explainers",
    Runtime: "runtimes",
    InputCheck: "input_checks",
}


def _key(record: Any) -> Any:
    if isinstance(record, Architecture):
        return (record.task if record.task != ANY_TASK else f"*{record.modality}", record.runtime, record.name)
    return record.name


def _describe(record: Any) -> str:
    kind = type(record).__name__
    key = _key(record)
    return f"{kind} {'/'.join(key) if isinstance(key, tuple) else key!r}"


def validate_record(record: Any) -> None:
    """Raise InvalidRecord naming the field when a record is malformed."""
    name = getattr(record, "name", None)
    if not isinstance(name, str):
        raise InvalidRecord(f"{type(record).__name__} has no string name: {name!r}")
    pattern = TASK_NAME if isinstance(record, Task) else COMPONENT_NAME
    if not pattern.match(name):
        raise InvalidRecord(f"{_describe(record)}: name must match {pattern.pattern}")
    for f in fields(record):
        value = getattr(record, f.name)
        if f.name in REF_FIELDS:
            if isinstance(value, str) and not REF_PATH.match(value):
                raise InvalidRecord(f"{_describe(record)}: {f.name}={value!r} is not 'module:attribute'")
            if value is None and f.name not in ("decode", "measure", "choose_labels", "report", "stream"):
                raise InvalidRecord(f"{_describe(record)}: {f.name} is required")
    if isinstance(record, LabelSchema):
        if not record.labels and record.kind != "regression":
            raise InvalidRecord(f"{_describe(record)}: has no labels")
        if record.kind == "binary" and (len(record.labels) != 2 or record.positive not in record.names):
            raise InvalidRecord(f"{_describe(record)}: a binary schema has two labels and one of them positive")
    if isinstance(record, Task) and not record.metrics:
        raise InvalidRecord(f"{_describe(record)}: needs at least one metric (the first drives early stopping)")
    from aiaas.loadchecks import record_problem

    problem = record_problem(record)
    if problem:
        raise InvalidRecord(f"{_describe(record)}: {problem}")


class Host:
    """The loaded plugins and what they registered."""

    def __init__(self, disabled: Iterable[str] = (), entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager("aiaas")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.components = Components()
        self._disabled = {name.strip() for name in disabled if name.strip()}
        self._instances: dict[tuple[str, str], Any] = {}
        for module_name in DEFAULT_PLUGINS:
            self._register_module(module_name.rsplit(".", 1)[-1], lambda m=module_name: importlib.import_module(m), "aiaas", __version__)
        if entry_points:
            for ep in importlib.metadata.entry_points(group="aiaas"):
                dist = ep.dist.name if ep.dist else None
                version = ep.dist.version if ep.dist else None
                self._register_module(ep.name, ep.load, dist, version)
        self._collect()

    # -- discovery ---------------------------------------------------------------

    def register_plugin(self, name: str, module: Any) -> None:
        """Register an already-imported plugin object (tests, embedding) and re-collect."""
        self._register_module(name, lambda: module, None, None)
        self.components = Components()
        self._collect()

    def _register_module(self, name: str, load: Any, dist: str | None, version: str | None) -> None:
        if name in self.plugins:
            info = PluginInfo(name, dist, version, "failed", f"plugin name {name!r} is taken by {self.plugins[name].distribution}")
            self.plugins[f"{name} ({dist})"] = info
            return
        info = PluginInfo(name, dist, version)
        self.plugins[name] = info
        if name in self._disabled:
            info.status, info.reason = "disabled", "listed in AIAAS_DISABLE_PLUGINS"
            return
        try:
            module = load()
        except Exception as exc:  # a broken plugin must not stop the host
            info.status, info.reason = "failed", f"import failed: {type(exc).__name__}: {exc}"
            return
        from aiaas.loadchecks import api_problem, hook_problem

        problem = None
        if dist != "aiaas":  # the core's own defaults are the contract
            info.api, problem = api_problem(module, name)
        problem = problem or hook_problem(module, set(self.pm.hook.__dict__))
        if problem:
            info.status, info.reason, info.tasks = "failed", problem, _declared_tasks(module)
            return
        try:
            self.pm.register(module, name=name)
        except Exception as exc:  # pluggy's own checks (a hook implementation's arguments)
            info.status, info.reason = "failed", f"{type(exc).__name__}: {exc}"

    def hooks_of(self, name: str) -> list[str]:
        """The hooks a plugin implements."""
        plugin = self.pm.get_plugin(name)
        if plugin is None:
            return []
        return sorted(impl.name for impl in self.pm.get_hookcallers(plugin) or ())

    def _working_impls(self, hook_name: str) -> Iterator[tuple[PluginInfo, Any]]:
        """Each implementation of a hook whose plugin has not been set aside."""
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            info = self.plugins[impl.plugin_name]
            if info.status == "ok":
                yield info, impl

    def _collect(self) -> None:
        for info in self.plugins.values():
            info.registered = {}
        for hook_name, expected in RECORD_TYPES.items():
            for info, impl in self._working_impls(hook_name):
                try:
                    records = list(impl.function() or ())
                    for record in records:
                        if not isinstance(record, expected):
                            raise InvalidRecord(f"{hook_name} returned {type(record).__name__}, not a record of {expected}")
                        validate_record(record)
                except Exception as exc:
                    self._fail(info, f"{hook_name}: {type(exc).__name__}: {exc}")
                    continue
                for record in records:
                    self._add(info, record)
        self._check_references()

    def _add(self, info: PluginInfo, record: Any) -> None:
        slot = _SLOT[type(record)]
        key = _key(record)
        table = getattr(self.components, slot)
        if key in table:
            other = self.components.owner[(slot, key)]
            self._fail(info, f"{_describe(record)} is already registered by plugin {other!r}; plugin {info.name!r} registers it again")
            return
        table[key] = record
        self.components.owner[(slot, key)] = info.name
        info.registered.setdefault(slot, []).append("/".join(key) if isinstance(key, tuple) else key)

    def _fail(self, info: PluginInfo, reason: str) -> None:
        """Set a plugin aside and withdraw everything it registered."""
        info.status, info.reason = "failed", reason
        info.tasks = sorted({*info.tasks, *info.registered.get("tasks", [])})
        for (slot, key), owner in list(self.components.owner.items()):
            if owner == info.name:
                getattr(self.components, slot).pop(key, None)
                del self.components.owner[(slot, key)]
        info.registered = {}

    def _check_references(self) -> None:
        c = self.components
        for name, task in list(c.tasks.items()):
            missing = [
                f"{what} {ref!r}"
                for what, ref, table in (
                    ("label schema", task.labels, c.label_schemas),
                    ("adapter", task.default_adapter, c.adapters),
                    ("preprocessor", task.preprocessor, c.preprocessors),
                    ("postprocessor", task.postprocessor, c.postprocessors),
                )
                if ref not in table
            ]
            refused = [n for n in task.refuse_unfamiliar if n != "*" and n not in c.input_checks]
            if refused:
                missing.append(f"input check {refused[0]!r}")
            if task.explainer and task.explainer not in c.explainers:
                missing.append(f"explainer {task.explainer!r}")
            if task.default_architecture != AUTO and not any(a.serves(task) and a.name == task.default_architecture for a in c.architectures.values()):
                missing.append(f"architecture {task.default_architecture!r}")
            owner = c.owner.get(("tasks", name))
            if missing and owner:
                self._fail(self.plugins[owner], f"task {name!r} refers to unknown {', '.join(missing)}")
        for key, arch in list(c.architectures.items()):
            problem = (f"is for unknown task {arch.task!r}" if arch.task not in c.tasks and arch.task != ANY_TASK else
                       "offered to every task (task='*') names no modality" if arch.task == ANY_TASK and not arch.modality else
                       f"names unknown preprocessor {arch.preprocessor!r}" if arch.preprocessor and arch.preprocessor not in c.preprocessors else None)
            owner = c.owner.get(("architectures", key))
            if problem and owner:
                self._fail(self.plugins[owner], f"architecture {arch.name!r} {problem}")
        for name, check in list(c.input_checks.items()):
            problem = (f"is for unknown task {check.task!r}" if check.task not in c.tasks and check.task != ANY_TASK else
                       "offered to every task (task='*') names no modality" if check.task == ANY_TASK and not check.modality else None)
            owner = c.owner.get(("input_checks", name))
            if problem and owner:
                self._fail(self.plugins[owner], f"input check {name!r} {problem}")

    # -- lookups -----------------------------------------------------------------

    def task(self, name: str) -> Task:
        """The task; a task whose plugin was set aside at load is ``PluginSetAside`` (503) naming the plugin and why."""
        try:
            return self.components.tasks[name]
        except KeyError:
            aside = self.set_aside_for(name)
            if aside is not None:
                raise PluginSetAside(f"{name} is provided by plugin {aside.name} ({aside.distribution or 'registered in code'}), "
                                     f"which was set aside at load: {aside.reason}") from None
            known = ", ".join(sorted(self.components.tasks)) or "none (install a vertical, e.g. aiaas-finance)"
            raise NotFound(f"unknown task {name!r}; installed tasks: {known}") from None

    def set_aside_for(self, task_name: str) -> PluginInfo | None:
        """The set-aside plugin that provides a task: one that declared it, else one named after its industry
        (a plugin whose import failed could not say what it provides)."""
        failed = [info for info in self.plugins.values() if info.status == "failed"]
        industry = task_name.split("/", 1)[0]
        return (next((i for i in failed if task_name in i.tasks), None)
                or next((i for i in failed if not i.tasks and industry in (i.name, (i.distribution or "").removeprefix("aiaas-"))), None))

    @property
    def set_aside_tasks(self) -> dict[str, PluginInfo]:
        """The tasks each set-aside plugin declared, by name (their routes answer 503 saying why)."""
        return {task: info for info in self.plugins.values() if info.status == "failed" for task in info.tasks
                if task not in self.components.tasks}

    def label_schema(self, task: Task, name: str | None = None) -> LabelSchema:
        """The task's schema, or the one named (chosen from the data, recorded with a model)."""
        try:
            return self.components.label_schemas[name or task.labels]
        except KeyError:
            raise UserError(f"unknown label schema {name!r} for {task.name}; known: {', '.join(sorted(self.components.label_schemas))}") from None

    def adapter(self, task: Task, name: str | None = None, path: Any = None) -> DataAdapter:
        adapters = [a for a in self.components.adapters.values() if a.task == task.name]
        if name:
            for adapter in adapters:
                if adapter.name == name:
                    return adapter
            raise UserError(f"unknown adapter {name!r} for {task.name}; known: {', '.join(a.name for a in adapters)}")
        if path is not None:
            suffix = "/" if path.is_dir() else path.suffix.lower()
            matching = [a for a in adapters if suffix in a.suffixes]
            if task.default_adapter in {a.name for a in matching}:
                return self.components.adapters[task.default_adapter]
            if matching:
                return matching[0]
        return self.components.adapters[task.default_adapter]

    def architectures(self, task: Task) -> list[Architecture]:
        """The task's own architectures, then those offered to its modality that it does not replace."""
        own = [a for a in self.components.architectures.values() if a.task == task.name]
        taken = {(a.name, a.runtime) for a in own}
        return own + [a for a in self.components.architectures.values()
                      if a.task == ANY_TASK and a.serves(task) and (a.name, a.runtime) not in taken]

    def runtime_installed(self, name: str) -> bool:
        record = self.components.runtimes.get(name)
        return record is not None and all(importlib.util.find_spec(mod) is not None for mod in record.requires)

    def candidates(self, task: Task, runtime: str | None = None) -> list[Architecture]:
        """What ``--arch auto`` trains: every architecture of the task whose runtime is installed,
        the classical ones first (they are quick, and set the bar)."""
        found = [a for a in self.architectures(task) if self.runtime_installed(a.runtime) and (runtime is None or a.runtime == runtime)
                 and not a.assembled]
        return sorted(found, key=lambda a: a.runtime != "classical")

    def assembler(self, task: Task) -> Architecture | None:
        """The architecture ``--arch auto`` builds from the other candidates (the weighted ensemble), if the modality has one."""
        return next((a for a in self.architectures(task) if a.assembled and self.runtime_installed(a.runtime)), None)

    def floor(self, task: Task) -> Architecture | None:
        """The task's classical floor (its own first, then its modality's)."""
        return next((a for a in self.architectures(task) if a.floor and self.runtime_installed(a.runtime)), None)

    def architecture(self, task: Task, name: str | None = None, runtime: str | None = None) -> Architecture:
        candidates = self.architectures(task)
        if runtime and runtime not in self.components.runtimes:
            raise UserError(f"unknown runtime {runtime!r}; known: {', '.join(sorted(self.components.runtimes))}")
        if name is None and runtime is None:
            name = task.default_architecture
        chosen = [a for a in candidates if (name is None or a.name == name) and (runtime is None or a.runtime == runtime)]
        if not chosen:
            known = ", ".join(f"{a.name} ({a.runtime})" for a in candidates)
            raise UserError(f"no architecture {name or ''} on runtime {runtime or 'any'} for {task.name}; known: {known}")
        default = [a for a in chosen if a.name == task.default_architecture]
        return (default or chosen)[0]

    def runtime(self, name: str) -> Any:
        """The runtime's implementation object (imports torch / tensorflow now)."""
        record = self.components.runtimes.get(name)
        if record is None:
            raise UserError(f"unknown runtime {name!r}; known: {', '.join(sorted(self.components.runtimes))}")
        missing = [mod for mod in record.requires if importlib.util.find_spec(mod) is None]
        if missing:
            raise UserError(f"runtime {name!r} needs {', '.join(missing)}: pip install 'aiaas[{name}]'")
        return self.instance("runtime", record.name, record.impl)

    def explainer(self, task: Task, runtime: str) -> Any | None:
        """The task's explainer when it names this runtime; else one of the modality's that
        names it (exact contributions of classical models); else the task's if it takes any runtime."""
        own = self.components.explainers.get(task.explainer) if task.explainer else None
        exact = [e for e in self.components.explainers.values() if e.modality == task.modality and runtime in e.runtimes]
        if own is not None and runtime in own.runtimes:
            record = own
        elif exact:
            record = exact[0]
        elif own is not None and not own.runtimes:
            record = own
        else:
            return None
        return self.instance("explainer", record.name, record.impl)

    def input_checks(self, task: Task) -> list[InputCheck]:
        """The checks offered to the task: its own, then its modality's."""
        found = [c for c in self.components.input_checks.values() if c.serves(task)]
        return sorted(found, key=lambda c: c.task == ANY_TASK)

    def preprocessor(self, task: Task, architecture: Architecture | None = None) -> Any:
        """The architecture's own preprocessor when it names one, else the task's."""
        name = (architecture.preprocessor if architecture else None) or task.preprocessor
        return self.instance("preprocessor", name, self.components.preprocessors[name].impl)

    def postprocessor(self, task: Task) -> Any:
        return self.instance("postprocessor", task.postprocessor, self.components.postprocessors[task.postprocessor].impl)

    def instance(self, kind: str, name: str, ref: Any) -> Any:
        """Resolve a Ref once; classes are instantiated with no arguments."""
        from aiaas.records import resolve

        key = (kind, name)
        if key not in self._instances:
            obj = resolve(ref)
            self._instances[key] = obj() if isinstance(obj, type) else obj
        return self._instances[key]

    def call_extension_hook(self, hook_name: str, **kwargs: Any) -> None:
        """Call register_routes / register_commands one plugin at a time, isolating failures."""
        for info, impl in list(self._working_impls(hook_name)):
            try:
                impl.function(**{k: kwargs[k] for k in impl.argnames})
            except Exception as exc:
                info.status, info.reason = "failed", f"{hook_name}: {type(exc).__name__}: {exc}"


_host: Host | None = None


def get_host() -> Host:
    """The process-wide host, loaded on first use with the environment's settings."""
    global _host
    if _host is None:
        import os

        _host = Host(disabled=os.environ.get("AIAAS_DISABLE_PLUGINS", "").split(","))
    return _host


def reset_host() -> None:
    global _host
    _host = None
