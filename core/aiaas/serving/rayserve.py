"""``aiaas serve --ray``: the same service scaled out on Ray Serve.

One Ray Serve application per task holds that task's model replicas (``--replicas N``, or
``--autoscale MIN,MAX`` on queue length); one HTTP application runs the whole aiaas app
(keys, validation, answers, metrics, the admin API, V2) on Ray's HTTP proxy. The HTTP side
decides which version answers (production, or a canary or shadow, from the registry as
always) and sends the decoded rows and that version to a replica, which batches them with
concurrent calls (the same ``Batcher``, on both sides: concurrent requests become one call)
and runs the model. So promote and rollback reach
every replica through the version each call names; a replica loads and warms what the
registry names before it takes calls and in the background as it moves, and keeps a few
versions warm.

On a laptop it starts a local Ray instance; ``--address`` joins a cluster, where every node
needs the same plugins installed, a shared registry database (``AIAAS_DATABASE_URL``) and
the artifact store: an object store (``AIAAS_ARTIFACTS``) or ``AIAAS_HOME`` on shared storage.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from aiaas.serving.batcher import Batcher, Work

HTTP_APP = "aiaas-http"
WARM_VERSIONS = 3


def model_app(task: str) -> str:
    """The Ray Serve application (and deployment) name of a task's model replicas."""
    return "aiaas-model-" + task.replace("/", "--")


def _works() -> dict[str, Work]:
    from aiaas.serving.routes import explain_work, predict_explained_work, predict_work
    from aiaas.serving.v2 import infer_work

    return {w.__name__: w for w in (predict_work, predict_explained_work, explain_work, infer_work)}


class TaskModel:
    """One replica of a task's models: the versions the registry names, loaded and warmed before
    the replica takes calls and, as the registry moves, in the background (``ServedModels``), so a
    call never waits for a load; a batcher joins concurrent calls into one model call."""

    def __init__(self, task: str) -> None:
        from aiaas.plugins import get_host
        from aiaas.registry import Registry
        from aiaas.settings import get_settings
        from aiaas.versions import ServedModels

        settings = get_settings()
        self.task, self.host, self.registry = task, get_host(), Registry.from_settings(settings)
        self.batcher = Batcher(settings.batch_max_instances, settings.max_queue_rows, max_wait=settings.max_queue_seconds)
        self.works = _works()
        self.served = ServedModels(self.host, self.registry, settings.alias_ttl_seconds, retry=settings.load_retry_seconds,
                                   keep=WARM_VERSIONS)
        self.served.warm_all(tasks=[task])  # Ray routes no call here before the constructor returns
        self.served.start(tasks=[task])  # and loads what the registry names next before a call asks for it
        self.replica = _replica_id()

    def pipeline(self, version: int) -> Any:
        return self.served.version(self.task, version)

    async def __call__(self, work: str, version: int, rows: list[Any], deadline_in: float) -> tuple[str, list[Any]]:
        from fastapi.concurrency import run_in_threadpool

        pipeline = self.served.loaded(self.task, version) or await run_in_threadpool(self.pipeline, version)
        deadline = time.monotonic() + deadline_in
        return self.replica, await self.batcher.run(self.task, pipeline, self.works[work], rows, deadline)


def _replica_id() -> str:
    from ray import serve

    context = serve.get_replica_context()
    replica = getattr(context, "replica_id", None)
    return str(getattr(replica, "unique_id", replica)) if replica is not None else str(getattr(context, "replica_tag", os.getpid()))


class RemoteBatcher(Batcher):
    """The HTTP side's batcher: admission and batching as before (concurrent requests become
    one call), the model call on a task's replica."""

    def __init__(self, *args: Any, on_replica: Callable[[str, str], None] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_replica = on_replica
        self._handles: dict[str, Any] = {}
        self._remote: dict[Work, Work] = {}

    def _handle(self, task: str) -> Any:
        if task not in self._handles:
            from ray import serve

            self._handles[task] = serve.get_deployment_handle(model_app(task), app_name=model_app(task))
        return self._handles[task]

    def remote(self, work: Work) -> Work:
        """``work`` run on the replica of the batch's task (one stand-in per work, so batches still group by it)."""
        if work not in self._remote:
            def call(pipeline: Any, rows: list[Any]) -> list[Any]:
                task = pipeline.task.name
                try:  # in the batcher's worker thread: a blocking wait is fine there
                    replica, results = self._handle(task).remote(work.__name__, pipeline.version, rows, 1e9).result()
                except Exception as exc:
                    cause = getattr(exc, "cause", None)  # the replica's own error (a 422 naming the field), not Ray's wrapper
                    if isinstance(cause, Exception):
                        raise cause from None
                    raise
                if self.on_replica:
                    self.on_replica(task, replica)
                return results

            self._remote[work] = call
        return self._remote[work]

    async def run(self, key: str, pipeline: Any, work: Work, instances: list[Any], deadline: float = float("inf"),
                  arrived: float | None = None) -> list[Any]:
        return await super().run(key, pipeline, self.remote(work), instances, deadline, arrived)


def build_http_app() -> Any:
    """The aiaas app with its model calls sent to the task replicas (built on the HTTP replica)."""
    from aiaas.serving.app import create_app

    app = create_app(remote=True)
    app.state.served.warm_all()  # Ray routes nothing here before this returns, lifespan or not
    app.state.served.start()
    return app


def task_app(args: dict[str, Any]) -> Any:
    """The Ray Serve application of one task's replicas: ``{"task": "finance/fraud"}``, plus
    ``num_replicas`` or ``autoscaling_config`` as Ray Serve takes them. An application builder,
    so a Ray Serve config (KubeRay's RayService) names it as ``aiaas.serving.rayserve:task_app``;
    the application's name must be ``model_app(task)`` (``aiaas-model-finance--fraud``)."""
    from ray import serve

    task = args["task"]
    scale = {k: args[k] for k in ("num_replicas", "autoscaling_config") if k in args}
    deployment = serve.deployment(TaskModel, name=model_app(task), ray_actor_options={"num_cpus": 0}, max_ongoing_requests=256, **scale)
    return deployment.bind(task)


def http_app(args: dict[str, Any] | None = None) -> Any:
    """The Ray Serve application of the HTTP side: ``aiaas.serving.rayserve:http_app``, route prefix ``/``."""
    from ray import serve

    ingress = serve.deployment(serve.ingress(build_http_app)(), name=HTTP_APP, ray_actor_options={"num_cpus": 0}, max_ongoing_requests=1000)
    return ingress.bind()


def deploy(replicas: int = 1, autoscale: tuple[int, int] | None = None, address: str | None = None, host: str = "127.0.0.1",
           port: int = 8000, tasks: list[str] | None = None) -> list[str]:
    """Start (or join) Ray, deploy every task's model replicas and the HTTP app; return the tasks deployed."""
    from ray import serve

    from aiaas.distributed.cluster import connect
    from aiaas.plugins import get_host

    connect(address)
    serve.start(http_options={"host": host, "port": port})
    names = tasks or sorted(get_host().components.tasks)
    scale: dict[str, Any] = ({"autoscaling_config": {"min_replicas": autoscale[0], "max_replicas": autoscale[1], "target_ongoing_requests": 4}}
                             if autoscale else {"num_replicas": replicas})
    for name in names:
        serve.run(task_app({"task": name, **scale}), name=model_app(name), route_prefix=None, blocking=False)
    serve.run(http_app(), name=HTTP_APP, route_prefix="/", blocking=False)
    return names
