"""``make run``: a promoted model for every installed task, trained on its sample data."""

from __future__ import annotations

from collections.abc import Iterator

from aiaas.plugins import Host
from aiaas.records import resolve
from aiaas.registry import Registry
from aiaas.settings import get_settings
from aiaas.training import TrainRequest, train


def ensure_models(host: Host, registry: Registry, rows: int, epochs: int | None, only: list[str] | None = None) -> Iterator[str]:
    """Skip a task that already has a production version, so a second run is quick."""
    samples = get_settings().home / "samples"
    tasks = [host.task(name) for name in only] if only else list(host.components.tasks.values())
    for task in tasks:
        current = registry.alias(task.name)
        if current is not None:
            yield f"{task.name}: version {current} is in production; keeping it"
            continue
        plan = task.quickstart
        n = plan.rows or rows
        data = resolve(task.sample)(samples / task.name.replace("/", "__"), n, 0)
        yield f"{task.name}: training {task.default_architecture} on {n} sample instances ({data})"
        result = train(host, registry, TrainRequest(task.name, data, epochs=plan.epochs or epochs, params=dict(plan.params), promote=True,
                                                    force=True, cross_validate=False))  # a demo: served as trained, quickly
        headline = task.metrics[0]
        yield f"{task.name}: version {result.version.version} promoted ({headline} {result.metrics[headline]:.3f}); report {result.report}"
