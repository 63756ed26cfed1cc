"""``aiaas monitor``: a task in production, from the prediction log and feedback."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table


def monitor(
    task: Annotated[str, typer.Argument(help="industry/task")],
    since: Annotated[str, typer.Option("--since", help="From when: 30m, 24h, 7d or an ISO date.")] = "7d",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Live metrics per version from feedback, and drift of inputs and scores against training; writes an HTML report."""
    from aiaas.cli import _print_json, _registry, console
    from aiaas.monitoring.monitor import monitor as measure
    from aiaas.monitoring.monitor import since as parse_since
    from aiaas.monitoring.monitor import write_monitoring_report
    from aiaas.monitoring.predictions import PredictionLog
    from aiaas.plugins import get_host
    from aiaas.settings import get_settings

    registry = _registry()
    result = measure(get_host(), registry, PredictionLog(registry.engine, get_settings().prediction_log_days), task, parse_since(since))
    folder = get_settings().home / "reports" / task.replace("/", "__") / f"monitor-{datetime.now():%Y%m%d-%H%M%S}"
    report = write_monitoring_report(result, folder)
    if as_json:
        return _print_json({**result.to_json(), "report": str(report)})
    table = Table("version", "role", "predictions", "flagged unfamiliar", "agrees with production", "with feedback", "metrics from feedback")
    for v in result.versions:
        mark = " *" if v.version == result.production else ""
        table.add_row(f"{v.version}{mark}", v.role or "-", str(v.predictions), f"{v.flagged} ({v.flagged / max(v.predictions, 1):.1%})",
                      "-" if v.agreement is None else f"{v.agreement:.1%}", str(v.feedback),
                      ", ".join(f"{k} {x:.3f}" for k, x in v.metrics.items()) or "-")
    console.print(table)
    if result.drift:
        drift = Table("feature", "PSI", "")
        for name, value in sorted(result.drift.items(), key=lambda kv: -kv[1]):
            drift.add_row(name, f"{value:.3f}", "[red]major[/]" if value > 0.25 else "[yellow]moderate[/]" if value > 0.1 else "stable")
        console.print(drift)
    for note in result.notes:
        console.print(f"note: {note}")
    console.print(f"report: {report}", soft_wrap=True)
