"""The ``aiaas`` command. Heavy modules are imported inside the commands that need
them, so ``aiaas plugins`` and ``aiaas --help`` start fast."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from aiaas.errors import UserError
from aiaas.plugins import get_host

if TYPE_CHECKING:
    from aiaas.registry import Registry

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Host industry-vertical AI models: train, evaluate, register, serve.")
PIPED_WIDTH = 4096
"""Output to a file or a CI log is not cut to 80 columns: task names and paths are identifiers, never shortened."""
console = Console(width=None if sys.stdout.isatty() else PIPED_WIDTH)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else PIPED_WIDTH)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
TaskArg = Annotated[str, typer.Argument(help="industry/task, e.g. finance/fraud (see `aiaas tasks`)")]
DataOpt = Annotated[Path, typer.Option("--data", help="The data: a file or folder the task's adapter reads.")]
LabelOpt = Annotated[Optional[str], typer.Option("--label", help="The column holding the label (default: the task's).")]
AdapterOpt = Annotated[Optional[str], typer.Option("--adapter", help="Read the data with this adapter instead of the task's default.")]
OptionOpt = Annotated[Optional[list[str]], typer.Option("--option", help="An adapter option KEY=VALUE (repeatable).")]
TextColumnOpt = Annotated[Optional[str], typer.Option("--text-column", help="For text tasks: the column holding the text.")]
VersionOpt = Annotated[Optional[int], typer.Option("--version", help="A registered version (default: production).")]


def _settings() -> Any:
    from aiaas.settings import get_settings

    return get_settings()


def _registry() -> Registry:
    from aiaas.registry import Registry

    return Registry.from_settings()


def _pairs(values: list[str] | None, flag: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in values or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UserError(f"{flag} takes KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def _options(option: list[str] | None, text_column: str | None) -> dict[str, Any]:
    """Adapter options; ``--text-column`` is the one every text task shares."""
    options = _pairs(option, "--option")
    if text_column:
        options["text_column"] = text_column
    return options


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


@app.command()
def plugins(as_json: JsonFlag = False) -> None:
    """List plugins: what each registered, or why it failed."""
    host = get_host()
    rows = [
        {"name": p.name, "distribution": p.distribution, "version": p.version, "status": p.status, "reason": p.reason,
         "hook_api": p.api, "hooks": host.hooks_of(p.name), "registered": p.registered}
        for p in host.plugins.values()
    ]
    if as_json:
        return _print_json(rows)
    table = Table("plugin", "distribution", "status", "registered / reason")
    for r in rows:
        what = r["reason"] if r["status"] != "ok" else "; ".join(f"{k}: {', '.join(v)}" for k, v in r["registered"].items())
        style = {"ok": "green", "failed": "red", "disabled": "yellow"}[r["status"]]
        dist = f"{r['distribution']} {r['version']}" if r["distribution"] and r["version"] else r["distribution"] or "-"
        dist += f" (hook API {r['hook_api']})" if r["hook_api"] else ""
        table.add_row(r["name"], dist, f"[{style}]{r['status']}[/]", what)
    console.print(table)


@app.command()
def tasks(as_json: JsonFlag = False) -> None:
    """List the installed tasks."""
    host = get_host()
    c = host.components
    rows = [
        {"task": t.name, "modality": t.modality, "labels": list(c.label_schemas[t.labels].names),
         "architectures": [f"{a.name} ({a.runtime})" for a in host.architectures(t)],
         "default_architecture": t.default_architecture, "metrics": list(t.metrics), "plugin": c.owner[("tasks", t.name)],
         "description": t.description}
        for t in c.tasks.values()
    ]
    if as_json:
        return _print_json(rows)
    table = Table("task", "modality", "labels", "architectures", "plugin")
    for r in rows:
        table.add_row(r["task"], r["modality"], ", ".join(r["labels"]), ", ".join(r["architectures"]), r["plugin"])
    console.print(table)


@app.command()
def sample(
    task: TaskArg,
    out: Annotated[Path, typer.Option("--out", help="Where to write (a file or folder, in the task's own format).")],
    rows: Annotated[int, typer.Option("--rows", min=1, help="How many instances.")] = 20_000,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    option: Annotated[Optional[list[str]], typer.Option("--option", help="A generator option KEY=VALUE, e.g. format=dicom (repeatable).")] = None,
) -> None:
    """Write the plugin's seeded sample data."""
    import inspect

    from aiaas.records import resolve

    generate = resolve(get_host().task(task).sample)
    options = _pairs(option, "--option")
    accepted = inspect.signature(generate).parameters
    unknown = [k for k in options if k not in list(accepted)[3:]]
    if unknown:
        raise UserError(f"--option {unknown[0]}: {task}'s sample generator takes {', '.join(list(accepted)[3:]) or 'no options'}")
    try:
        path = generate(out, rows, seed, **options)
    except ValueError as exc:  # the generator's own check of its options or of --out
        raise UserError(f"{task} sample: {exc}") from None
    what = "under the folder" if Path(path).is_dir() else "to"
    console.print(f"wrote {rows} sample instances of {task} {what} {path}")


@app.command()
def train(
    task: TaskArg,
    data: DataOpt,
    runtime: Annotated[Optional[str], typer.Option("--runtime", help="torch, tensorflow or classical (default: the default architecture's; with auto, only that runtime's candidates).")] = None,
    arch: Annotated[Optional[str], typer.Option("--arch", help="Architecture name (see `aiaas tasks`), or auto: fit every candidate, keep the best on validation.")] = None,
    budget: Annotated[Optional[float], typer.Option("--budget", help="With --arch auto: minutes after which no further candidate starts.")] = None,
    keep_columns: Annotated[Optional[list[str]], typer.Option("--keep-columns", help="Tables: use this column even if it looks like an identifier or a leak (repeat or comma-separate).")] = None,
    drop_columns: Annotated[Optional[list[str]], typer.Option("--drop-columns", help="Tables: leave this column out (repeat or comma-separate).")] = None,
    epochs: Annotated[Optional[int], typer.Option("--epochs", help="Most epochs (training stops early on the validation metric).")] = None,
    label: LabelOpt = None,
    adapter: AdapterOpt = None,
    option: OptionOpt = None,
    text_column: TextColumnOpt = None,
    param: Annotated[Optional[list[str]], typer.Option("--param", help="Architecture or fit parameter KEY=VALUE, e.g. learning_rate=0.001.")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    promote: Annotated[bool, typer.Option("--promote", help="Serve this version once registered (unless it loses to its classical floor beyond noise).")] = False,
    force: Annotated[bool, typer.Option("--force", help="With --promote: serve it even if it loses to its classical floor.")] = False,
    weights: Annotated[Optional[Path], typer.Option("--weights", help="Start from pretrained weights in this local .safetensors file (fine-tuning).")] = None,
    max_memory: Annotated[Optional[str], typer.Option("--max-memory", help="Train out of core, holding at most this much of the data (2GB, 512MB): "
                                                       "the data streams from disk and never sits whole in memory. Default: AIAAS_MAX_MEMORY.")] = None,
    on_ray: Annotated[bool, typer.Option("--ray", help="Train on a Ray cluster: Ray Data reads and encodes each file on the nodes, "
                                               "Ray Train fits data-parallel (torch, gbdt) with a checkpoint per epoch.")] = False,
    address: AddressOpt = None,
    workers: WorkersOpt = 1,
    cpus_per_worker: CpusOpt = 1.0,
    gpus_per_worker: GpusOpt = 0.0,
    resume: Annotated[Optional[str], typer.Option("--resume", help="With --ray: go on with this run (its id is printed when it starts) "
                                                  "from its last checkpoints.")] = None,
    label_map: Annotated[Optional[str], typer.Option("--label-map", help="Map the file's label values to the task's labels: yes=accepted,no=rejected.")] = None,
    prior: Annotated[Optional[str], typer.Option("--prior", help="Production's label rate: 0.002 (a binary task's positive label) or "
                                                 "LABEL=RATE,... for every label; probabilities and the operating point are corrected for it.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Train, evaluate on held-out data, and register a new version."""
    from aiaas.training import TrainRequest, checks_fact
    from aiaas.training import train as run_training

    cluster = _ray_plan(on_ray, address, workers, cpus_per_worker, gpus_per_worker, resume)
    from aiaas.labels import LABEL_MAP, parse_label_map

    options = {**_options(option, text_column), **({LABEL_MAP: parse_label_map(label_map)} if label_map else {})}
    request = TrainRequest(task, data, runtime, arch, epochs, label, adapter, _pairs(param, "--param"), options, seed, promote,
                           weights, budget, _names(keep_columns), _names(drop_columns), max_memory or _settings().max_memory, cluster,
                           prior=prior, force=force)
    result = run_training(get_host(), _registry(), request, quiet=as_json)
    summary = {**result.version.to_json(), "report": str(result.report), "promoted": result.promoted, "floor": result.floor,
               "leaderboard": result.leaderboard, "notes": result.notes, "input_checks": result.input_checks}
    if as_json:
        return _print_json(summary)
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}")
    if result.leaderboard:
        board = Table("candidate", f"validation {_headline(result.floor)}", "training s", "size MB", "ms/row")
        for r in result.leaderboard:
            board.add_row(r["candidate"], _number(r["validation"]), f"{r['seconds']:.1f}", f"{r['bytes'] / 1e6:.2f}", f"{r['ms_per_row']:.3f}")
        console.print(board)
    console.print(f"[green]registered[/] {task} version {result.version.version} ({result.version.architecture} on {result.version.runtime})"
                  + (" and promoted it to production" if result.promoted else ""))
    _metrics_table(result.metrics, result.intervals)
    rates = result.version.provenance.get("label_rates") or {}
    if rates.get("training"):
        from aiaas.base_rates import describe

        console.print(f"label rates: {describe(rates)}")
    if at := result.version.provenance.get("at_production_rate"):
        console.print(f"at production's rate ({at['rate']:.3%}): precision {at['precision']:.4f}, recall {at['recall']:.4f}, "
                      f"PR-AUC {at['average_precision']:.4f}")
    console.print(_floor_text(result.floor))
    console.print(f"input checks: {checks_fact(result.input_checks)}")
    console.print(f"report: {result.report}")


AddressOpt = Annotated[Optional[str], typer.Option("--address", help="With --ray: the cluster (auto: the one this node is in; default: a local Ray).")]
WorkersOpt = Annotated[int, typer.Option("--workers", help="With --ray: workers (training workers, or scoring actors).")]
CpusOpt = Annotated[float, typer.Option("--cpus-per-worker", help="With --ray: CPUs each worker takes.")]
GpusOpt = Annotated[float, typer.Option("--gpus-per-worker", help="With --ray: GPUs each worker takes (0: none).")]


def _ray_plan(on_ray: bool, address: str | None, workers: int, cpus: float, gpus: float, resume: str | None = None) -> Any:
    if on_ray:
        from aiaas.distributed.plan import RayPlan

        return RayPlan(address, workers, cpus, gpus, resume)
    if address or resume or workers != 1 or cpus != 1.0 or gpus:
        raise UserError("--address, --workers, --cpus-per-worker, --gpus-per-worker and --resume are for --ray")
    return None


def _headline(floor: dict[str, Any]) -> str:
    return str(floor.get("metric", ""))


def _names(values: Optional[list[str]]) -> tuple[str, ...]:
    return tuple(name.strip() for value in values or () for name in value.split(",") if name.strip())


def _floor_text(floor: dict[str, Any] | None) -> str:
    """The verdict against the classical floor; red when the model loses to it beyond noise."""
    if not floor:
        return "floor: not measured"
    text = escape(floor.get("text", ""))
    return f"[red]floor: {text}[/]" if floor.get("verdict") == "loses to" else f"floor: {text}"


def _number(value: float | None, digits: int = 4) -> str:
    """A metric for a table; undefined ones (one class in the test split) read n/a."""
    return "n/a" if value is None or value != value else f"{value:.{digits}f}"


def _with_interval(value: float | None, bounds: list[float] | None, digits: int = 4) -> str:
    from aiaas.intervals import interval_text

    return _number(value, digits) + (f" ({interval_text(bounds, digits)})" if bounds else "")


def _metrics_table(scores: dict[str, float], intervals: dict[str, list[float] | None] | None = None) -> None:
    from aiaas.metrics import DESCRIPTIONS

    table = Table("metric", "value", "95% interval")
    for k, v in scores.items():
        bounds = (intervals or {}).get(k)
        table.add_row(DESCRIPTIONS.get(k, k), _number(v), f"{_number(bounds[0])} to {_number(bounds[1])}" if bounds else "n/a")
    console.print(table)


@app.command()
def evaluate(task: TaskArg, data: DataOpt, version: VersionOpt = None, label: LabelOpt = None, adapter: AdapterOpt = None,
             option: OptionOpt = None, text_column: TextColumnOpt = None, as_json: JsonFlag = False) -> None:
    """Score a registered version on labelled data and write a report."""
    from aiaas.evaluation import evaluate_version

    result = evaluate_version(get_host(), _registry(), task, data, version, label, adapter, _options(option, text_column))
    if as_json:
        return _print_json({"task": task, **result.to_json()})
    if result.warning:
        console.print(f"[yellow]warning:[/] {escape(result.warning)}")
    _metrics_table(result.metrics, result.intervals)
    if result.unseen_metrics is not None:
        console.print(f"on the {result.rows - (result.seen or 0):,} rows version {result.version} never saw:")
        _metrics_table(result.unseen_metrics, result.unseen_intervals)
    console.print(f"report: {result.report}")


@app.command()
def predict(
    task: TaskArg,
    input: Annotated[Path, typer.Option("--input", help="CSV or Parquet (or what the task's adapter reads) to score: a file, a folder or a glob.")],
    output: Annotated[Path, typer.Option("--output", help="Where to write the scored rows: a .csv or .parquet file, or a folder for "
                                                         "Parquet partitions (streamed in bounded memory; a stopped run resumes).")],
    version: VersionOpt = None,
    adapter: AdapterOpt = None,
    option: OptionOpt = None,
    text_column: TextColumnOpt = None,
    on_ray: Annotated[bool, typer.Option("--ray", help="Score on a Ray cluster: each file read and scored by an actor pool "
                                               "into Parquet partitions of the --output folder.")] = False,
    address: AddressOpt = None,
    workers: WorkersOpt = 1,
    cpus_per_worker: CpusOpt = 1.0,
    gpus_per_worker: GpusOpt = 0.0,
) -> None:
    """Score a file offline with the production (or a given) version."""
    from aiaas.scoring import BATCH_ROWS, score_file

    cluster = _ray_plan(on_ray, address, workers, cpus_per_worker, gpus_per_worker)
    if cluster is not None:
        from aiaas.records import resolve

        score_on_cluster = resolve("aiaas.distributed.scoring:score_on_cluster")  # Ray loads only on this path
        if output.suffix:
            raise UserError(f"--output {output}: with --ray, name a folder for the Parquet partitions")
        get_host().task(task)
        scored = score_on_cluster(task, input, output, version, adapter, _options(option, text_column), BATCH_ROWS, cluster)
    else:
        scored = score_file(get_host(), _registry(), task, input, output, version, adapter, _options(option, text_column))
    resumed = f" ({scored.resumed} more were already there from a stopped run)" if scored.resumed else ""
    console.print(f"scored {scored.rows} rows of {input} -> {output}{resumed}")
    if scored.flagged:
        refused = f", {scored.refused} of them refused by the task and left unanswered" if scored.refused else ""
        console.print(f"[yellow]{scored.flagged} rows are unlike the training data{refused}: see the in_distribution and "
                      f"unfamiliar_reasons columns[/yellow]")


def _floor_cell(floor: dict[str, Any] | None) -> str:
    if not floor or floor.get("floor") is None:
        return "n/a"
    verdict = floor.get("verdict") or {True: "beats", False: "loses to"}.get(floor.get("beats"))  # type: ignore[call-overload]  # a version judged before verdicts
    if verdict is None:
        return "is the floor" if floor.get("margin") == 0.0 else "n/a"
    bounds = floor.get("difference_interval")
    how = f"{floor['margin']:+.3f} ({bounds[0]:+.3f} to {bounds[1]:+.3f})" if bounds else f"{floor['margin']:+.3f}, untested"
    text = f"{verdict} the floor ({floor['floor']:.3f}): {how}"
    return f"[red]{text}[/]" if verdict == "loses to" else text


def _rate_cell(rates: dict[str, Any] | None) -> str:
    """The rarest label's share of the training split, and production's when given."""
    if not rates or not rates.get("training"):
        return "n/a"
    name, share = min(rates["training"].items(), key=lambda item: item[1])
    production = (rates.get("production") or {}).get(name)
    return f"{name} {share:.1%}" + (f" / {production:.2%}" if production is not None else "")


@app.command()
def models(task: Annotated[Optional[str], typer.Argument(help="Only this task.")] = None, as_json: JsonFlag = False) -> None:
    """List registered versions with their metrics; * marks production."""
    registry = _registry()
    if task:
        get_host().task(task)
    rows = registry.listing(task)
    if as_json:
        return _print_json(rows)
    table = Table("task", "version", "", "architecture", "runtime", "created", "metrics", "label rate (train / production)", "against the classical floor")
    for r in rows:
        bounds = r.get("provenance", {}).get("intervals") or {}
        metric_text = "  ".join(f"{k} {_with_interval(v, bounds.get(k), 3)}" for k, v in list(r["metrics"].items())[:3])
        table.add_row(r["task"], str(r["version"]), "*" if r["production"] else "", r["architecture"], r["runtime"], r["created_at"][:19], metric_text,
                      _rate_cell(r.get("provenance", {}).get("label_rates")), _floor_cell(r.get("provenance", {}).get("floor")))
    console.print(table)
    for r in rows:  # what servers reported: a version that failed to load, or whose files changed on disk
        for kind, why in r["problems"].items():
            console.print(f"[red]{r['task']} version {r['version']} {'failed to load' if kind == 'load' else 'files changed on disk'}:[/] "
                          f"{escape(why)}", highlight=False)


@app.command()
def promote(
    task: TaskArg,
    version: Annotated[Optional[int], typer.Argument(help="The version to serve.")] = None,
    canary: Annotated[Optional[int], typer.Option("--canary", min=1, max=99, help="Serve VERSION to this percent of clients only (sticky per client key).")] = None,
    shadow: Annotated[Optional[int], typer.Option("--shadow", help="Send a copy of the traffic to this version without answering from it.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Serve a version that loses to its classical floor beyond noise.")] = False,
) -> None:
    """Serve VERSION of TASK (running servers pick it up without a restart), or try it first as a canary or a shadow.
    Promoting completes a rollout; `aiaas rollback` ends one."""
    from aiaas.registry import CANARY, SHADOW

    get_host().task(task)
    registry = _registry()
    if shadow is not None and (canary is not None or version not in (None, shadow)):
        raise UserError("--shadow names its version alone: `aiaas promote TASK --shadow VERSION`")
    if shadow is not None or canary is not None:
        if canary is not None and version is None:
            raise UserError("--canary needs the version: `aiaas promote TASK VERSION --canary PERCENT`")
        kind, which = (SHADOW, shadow) if shadow is not None else (CANARY, version)
        started = registry.start_rollout(task, which, kind, canary or 100)  # type: ignore[arg-type]
        console.print(f"{task}: {started.describe()} beside production version {registry.alias(task)}; "
                      f"`aiaas monitor {task}` compares them, `aiaas promote {task} {started.version}` completes it, `aiaas rollback {task}` ends it")
        return
    if version is None:
        raise UserError("give the version to promote: `aiaas promote TASK VERSION`")
    registry.promote(task, version, force=force)
    console.print(f"{task} version {version} is now production")


@app.command()
def rollback(task: TaskArg) -> None:
    """Serve the version that was production before the current one; during a canary or shadow, end it instead."""
    get_host().task(task)
    registry = _registry()
    rollout = registry.rollout(task)
    row = registry.rollback(task)
    if rollout is not None:
        console.print(f"{task}: ended the {rollout.describe()}; production version {row.version} answers everything")
    else:
        console.print(f"{task} rolled back to version {row.version}")


@app.command()
def optimize(
    task: TaskArg,
    version: Annotated[int, typer.Argument(help="The trained version to optimise.")],
    to: Annotated[str, typer.Option("--to", help="The format: onnx.")] = "onnx",
    quantize: Annotated[Optional[str], typer.Option("--quantize", help="int8: weights (and, for convolutional models, activations) in 8 bits.")] = None,
    data: Annotated[Optional[Path], typer.Option("--data", help="The training data, when it is no longer where the version was trained.")] = None,
    label: LabelOpt = None, adapter: AdapterOpt = None, option: OptionOpt = None, text_column: TextColumnOpt = None,
    rows: Annotated[int, typer.Option("--rows", min=1, help="Validation rows to check the optimised model on.")] = 2000,
    promote: Annotated[bool, typer.Option("--promote", help="Serve the optimised version once registered.")] = False,
) -> None:
    """Export VERSION to ONNX (quantised when asked), check it against the original on validation rows, register it as a new version."""
    from aiaas.optimize import optimize as run

    result = run(get_host(), _registry(), task, version, to, quantize, data, label, adapter, _options(option, text_column), rows, promote,
                 say=lambda line: console.print(f"[dim]{line}[/]"))
    c = result.comparison
    table = Table("", f"version {version} ({result.version.architecture} eager)", f"version {result.version.version} (onnx{' ' + quantize if quantize else ''})",
                  "ratio")
    table.add_row("size MB", f"{c.size_bytes[0] / 1e6:.2f}", f"{c.size_bytes[1] / 1e6:.2f}", f"{c.size_bytes[0] / max(c.size_bytes[1], 1):.1f}x smaller")
    table.add_row("ms per row", f"{c.ms_per_row[0]:.3f}", f"{c.ms_per_row[1]:.3f}", f"{c.ms_per_row[0] / max(c.ms_per_row[1], 1e-9):.1f}x faster")
    table.add_row(f"validation {c.metric}", f"{c.before:.4f}", f"{c.after:.4f}", f"{c.after - c.before:+.4f}")
    console.print(table)
    console.print(f"same label on {c.agreement:.1%} of {c.rows:,} validation rows; largest logit difference {c.max_abs_difference:.2e}")
    console.print(f"registered {task} version {result.version.version}" + (" and promoted it" if promote else f"; serve it with `aiaas promote {task} {result.version.version}`"))


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Processes, each with its own batcher; promote and rollback reach them all.")] = 1,
    insecure_open: Annotated[bool, typer.Option("--insecure-open", help="Serve a non-loopback address with no API key.")] = False,
    ray: Annotated[bool, typer.Option("--ray", help="Serve on Ray Serve: each task's model in replicas (pip install 'aiaas[ray]').")] = False,
    replicas: Annotated[int, typer.Option("--replicas", min=1, help="With --ray: model replicas per task.")] = 1,
    autoscale: Annotated[Optional[str], typer.Option("--autoscale", help="With --ray: MIN,MAX replicas per task, scaled on queue length.")] = None,
    address: Annotated[Optional[str], typer.Option("--address", help="With --ray: join this Ray cluster (default: start a local one).")] = None,
    grpc_port: Annotated[Optional[int], typer.Option("--grpc-port", min=1, max=65535,
                                                     help="Serve the Open Inference Protocol over gRPC on this port too (pip install 'aiaas[grpc]').")] = None,
) -> None:
    """Serve the HTTP API (interactive docs at /docs). Beyond loopback it needs an API key (`aiaas keys create`)."""
    from aiaas.cli_access import refuse_open_exposure

    refuse_open_exposure(host, insecure_open)
    if grpc_port is not None:
        import importlib.util
        import os

        if importlib.util.find_spec("grpc") is None or importlib.util.find_spec("tritonclient") is None:
            raise UserError("--grpc-port needs grpcio and the protocol's messages: pip install 'aiaas[grpc]'")
        if ray or autoscale or address or replicas > 1:
            raise UserError("--grpc-port is not served with --ray yet: serve gRPC from `aiaas serve` without --ray")
        from aiaas.settings import get_settings

        os.environ["AIAAS_GRPC_PORT"], os.environ["AIAAS_GRPC_HOST"] = str(grpc_port), host  # read by each worker's app
        get_settings.cache_clear()
    if insecure_open:
        errors.print(f"[yellow]warning:[/] serving {host} with no API key checks unless keys exist: anyone who reaches it may use it")
    if ray or autoscale or address or replicas > 1:
        return _serve_on_ray(host, port, replicas, autoscale, address, ray)
    import uvicorn

    console.print(f"serving on http://{host}:{port}  (console: http://{host}:{port}/console/, docs: http://{host}:{port}/docs)"
                  + (f"; Open Inference Protocol over gRPC on {host}:{grpc_port}" if grpc_port else ""))
    import os
    import shutil
    import tempfile

    from aiaas.serving.observe import LOG_CONFIG, MULTIPROCESS

    shared = None
    if workers > 1 and not os.environ.get(MULTIPROCESS):  # one /metrics for all workers: each writes its values here
        shared = os.environ[MULTIPROCESS] = tempfile.mkdtemp(prefix="aiaas-metrics-")
    try:
        uvicorn.run("aiaas.serving.app:create_app", factory=True, host=host, port=port, workers=workers, log_level="info",
                    access_log=False, log_config=LOG_CONFIG,  # aiaas writes its own JSON access log
                    http="aiaas.serving.fastshed:SheddingProtocol")  # refusals under overload cost a parse and a write
    finally:
        if shared:
            shutil.rmtree(shared, ignore_errors=True)


def _serve_on_ray(host: str, port: int, replicas: int, autoscale: str | None, address: str | None, asked: bool) -> None:
    import importlib.util
    import time

    from aiaas.records import resolve

    if not asked:
        raise UserError("--replicas, --autoscale and --address are for --ray")
    if importlib.util.find_spec("ray") is None:
        raise UserError("--ray needs Ray Serve: pip install 'aiaas[ray]'")
    bounds = None
    if autoscale:
        low, _, high = autoscale.partition(",")
        if not (low.strip().isdigit() and high.strip().isdigit() and 0 < int(low) <= int(high)):
            raise UserError(f"--autoscale {autoscale}: give MIN,MAX replicas, such as 1,4")
        bounds = (int(low), int(high))
    tasks = resolve("aiaas.serving.rayserve:deploy")(replicas, bounds, address, host, port)  # ray loads only here
    each = f"{bounds[0]}-{bounds[1]} replicas (autoscaled)" if bounds else f"{replicas} replica{'s' if replicas > 1 else ''}"
    console.print(f"serving {len(tasks)} tasks on Ray Serve, {each} each, at http://{host}:{port}  (docs: /docs; Ctrl-C stops)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        resolve("ray.serve:shutdown")()


@app.command()
def quickstart(
    only: Annotated[Optional[list[str]], typer.Argument(help="Only these tasks (default: every installed task).")] = None,
    rows: Annotated[int, typer.Option("--rows", help="Sample size per task, unless the task sets its own.")] = 20_000,
    epochs: Annotated[Optional[int], typer.Option("--epochs", help="Epochs, unless the task sets its own.")] = 8,
) -> None:
    """Train and promote a default model for every task that has none yet, on its sample data."""
    from aiaas.quickstart import ensure_models

    for line in ensure_models(get_host(), _registry(), rows, epochs, only):
        console.print(line)


plugin_app = typer.Typer(no_args_is_help=True, help="Write plugins: aiaas plugin new NAME.")


@plugin_app.command("new")
def plugin_new(
    name: Annotated[str, typer.Argument(help="The plugin's name, e.g. insurance (distribution aiaas-insurance, package aiaas_insurance).")],
    industry: Annotated[Optional[str], typer.Option("--industry", help="The industry its task names start with (default: the name).")] = None,
    modality: Annotated[str, typer.Option("--modality", help="tabular, image, text or sequence.")] = "tabular",
    task: Annotated[Optional[str], typer.Option("--task", help="The task's short name (default: one per modality).")] = None,
    directory: Annotated[Optional[Path], typer.Option("--dir", help="Where to write the project (default: ./aiaas-NAME).")] = None,
) -> None:
    """Write a complete plugin project: pyproject with the entry point, a working task, a seeded
    sample generator, tests that use aiaas.testing, and a README."""
    from aiaas.scaffold import new_plugin

    target = directory or Path(f"aiaas-{name}")
    written = new_plugin(name, industry, modality, task, target)
    console.print(f"wrote {len(written)} files to {target}")
    console.print(escape(f"next: pip install -e '{target}[torch,dev]' && pytest {target}"), soft_wrap=True)


@plugin_app.command("reference")
def plugin_reference(
    out: Annotated[Optional[Path], typer.Option("--out", help="Write the page here (default: print it).")] = None,
) -> None:
    """The plugin API reference (every hook and record field), generated from the code, in Markdown."""
    from aiaas.reference import Undocumented, render

    try:
        page = render(get_host())
    except Undocumented as exc:
        raise UserError(str(exc)) from None
    if out is None:
        print(page, end="")
        return
    out.write_text(page, encoding="utf-8")
    console.print(f"wrote {out}")


from aiaas.cli_access import audit, keys_app  # noqa: E402
from aiaas.cli_monitor import monitor  # noqa: E402

app.add_typer(keys_app, name="keys")
app.add_typer(plugin_app, name="plugin")
app.command()(audit)
app.command()(monitor)


def main() -> None:
    get_host().call_extension_hook("register_commands", cli=app)
    try:
        app(standalone_mode=False)
    except UserError as exc:
        errors.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise SystemExit(2) from None
    except (typer.Abort, KeyboardInterrupt):
        errors.print("aborted")
        raise SystemExit(130) from None
    except Exception as exc:  # click's own usage errors (Typer's vendored click raises its own classes of them)
        if hasattr(exc, "format_message") and isinstance(getattr(exc, "exit_code", None), int):
            errors.print(f"[red]error:[/] {escape(exc.format_message())}", highlight=False, soft_wrap=True)
            raise SystemExit(exc.exit_code) from None
        raise
