"""Data-parallel fits under Ray Train, each with a checkpoint per epoch (per 50 boosting rounds).

- torch: DistributedDataParallel (``TorchTrainer``). Each worker's batch is the run's batch size
  divided by the workers, so an optimiser step sees as many rows as on one machine; the
  gradients are averaged across workers. Every worker scores the validation sample with the
  same weights, so all stop at the same epoch with no vote; the best epoch's weights are kept.
- Keras: ``MultiWorkerMirroredStrategy`` (``TensorflowTrainer``), trained step by step
  (``KerasStepTrainer``: Keras 3's ``fit`` does not run under that strategy), with the same batch
  share, loss and early stopping as torch.
- ``gbdt``: LightGBM's data-parallel tree learner (``LightGBMTrainer``), each worker binning its
  share of the rows from a spill on its own disk; early stopping on the validation sample.

A checkpoint is safetensors, LightGBM's text format and JSON, never pickle. A worker that dies is
replaced and its run goes on from the last checkpoint (``FailureConfig``); a run whose driver died
goes on from there when started again with the same run id (``aiaas train --resume RUN``).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from aiaas.distributed.plan import RayPlan
from aiaas.errors import UserError

BEST, CURRENT, LOOP, OPTIMIZER = "best.safetensors", "current.safetensors", "loop.json", "optimizer.safetensors"
ROUNDS_PER_CHECKPOINT = 50


@dataclass(frozen=True)
class Job:
    """One candidate's fit on the cluster: what every worker needs to build and train its model."""

    architecture: Any
    runtime: str
    spec: Any
    params: dict[str, Any]
    config: Any
    patience: int
    validation: tuple[dict[str, np.ndarray], np.ndarray]
    metric: str
    kind: str
    chunk_rows: int
    memory: int | None
    """Bytes a tree model may bin on one worker."""


def _selection(job: Job) -> Any:
    from aiaas.calibration import calibrated
    from aiaas.metrics import score_for_selection

    return lambda logits: score_for_selection(job.metric, job.validation[1], calibrated(logits, job.kind, None))


@dataclass
class Replica:
    """One worker's model in an epoch loop, whatever its framework: its weights as numpy arrays (what
    a checkpoint holds, in safetensors), one chunk's training step, and the sum of a total across workers."""

    weights: Callable[[], dict[str, np.ndarray]]
    load: Callable[[dict[str, np.ndarray]], None]
    trainer: Any
    """The runtime's trainer: ``state()`` and ``load_state(arrays, meta)`` hold the optimiser's state."""
    chunk: Callable[[dict[str, np.ndarray], np.ndarray, np.ndarray], float]
    logits: Callable[[dict[str, np.ndarray]], np.ndarray]
    summed: Callable[[np.ndarray], np.ndarray] = lambda total: total


def _epochs(job: Job, replica: Replica) -> None:
    """Epochs over this worker's shard with early stopping on the validation sample, a checkpoint each epoch,
    and (after a failure, or under ``--resume``) from the last checkpoint."""
    import ray.train
    from safetensors.numpy import load_file, save_file

    from aiaas.distributed.data import unpack

    context = ray.train.get_context()
    score_of = _selection(job)
    loop: dict[str, Any] = {"epoch": 0, "best": None, "waited": 0, "history": []}
    best: dict[str, np.ndarray] = {}
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            loop = json.loads((Path(folder) / LOOP).read_text())
            replica.load(load_file(str(Path(folder) / CURRENT)))
            best = load_file(str(Path(folder) / BEST))
            replica.trainer.load_state(load_file(str(Path(folder) / OPTIMIZER)), loop["optimizer"])
        loop["resumed"] = [*loop.get("resumed", []), loop["epoch"]]
    shard = ray.train.get_dataset_shard("train")
    for epoch in range(loop["epoch"] + 1, job.config.epochs + 1):
        if loop["waited"] >= job.patience:
            break
        total = np.zeros(2)
        for batch in shard.iter_batches(batch_size=job.chunk_rows, batch_format="numpy"):
            x, y, w = unpack(batch)
            total += [replica.chunk(x, y, w) * len(y), len(y)]
        total = replica.summed(total)
        score = score_of(replica.logits(job.validation[0]))
        loop["history"].append({"epoch": epoch, "loss": float(total[0] / max(total[1], 1.0)), "validation": score})
        if loop["best"] is None or score > loop["best"] + 1e-6:
            loop["best"], loop["waited"], best = score, 0, replica.weights()
        else:
            loop["waited"] += 1
        loop["epoch"] = epoch
        with tempfile.TemporaryDirectory() as folder:
            if context.get_world_rank() == 0:
                arrays, loop["optimizer"] = replica.trainer.state()
                save_file(arrays, str(Path(folder) / OPTIMIZER))
                save_file(replica.weights(), str(Path(folder) / CURRENT))
                save_file(best, str(Path(folder) / BEST))
                (Path(folder) / LOOP).write_text(json.dumps(loop))
            ray.train.report({"epoch": epoch, "validation": score},
                             checkpoint=ray.train.Checkpoint.from_directory(folder) if context.get_world_rank() == 0 else None)


def _torch_loop(job: Job) -> None:
    import ray.train
    import ray.train.torch
    import torch

    from aiaas.plugins import get_host

    world = ray.train.get_context().get_world_size()
    runtime = get_host().runtime("torch")
    runtime.seed(job.config.seed)
    module = runtime.build(job.architecture, job.spec, job.params)
    model = ray.train.torch.prepare_model(module) if world > 1 else module  # DistributedDataParallel
    trainer = runtime.trainer(model, job.spec, replace(job.config, batch_size=max(1, job.config.batch_size // world)))

    def summed(total: np.ndarray) -> np.ndarray:
        tensor = torch.as_tensor(total)
        if torch.distributed.is_initialized():
            torch.distributed.all_reduce(tensor)
        return tensor.numpy()

    _epochs(job, Replica(lambda: {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()},
                         lambda arrays: module.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()}),
                         trainer, trainer.epoch, lambda x: runtime.predict_logits(module, x), summed))


def _keras_loop(job: Job) -> None:
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()  # first, before any other TensorFlow op (Ray Train set TF_CONFIG)
    from aiaas.plugins import get_host
    from aiaas.runtimes.tensorflow import KerasStepTrainer, as_arrays, assign

    runtime = get_host().runtime("tensorflow")
    runtime.seed(job.config.seed)
    with strategy.scope():
        model = runtime.build(job.architecture, job.spec, job.params)
    trainer = KerasStepTrainer(model, job.spec, job.config, strategy)
    variables = model.variables  # the weights and the dropout layers' seed states: a resumed run draws as the first would
    _epochs(job, Replica(lambda: as_arrays(variables), lambda arrays: assign(variables, arrays), trainer, trainer.epoch,
                         lambda x: runtime.predict_logits(model, x),
                         lambda total: strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(lambda: tf.constant(total)), axis=None).numpy()))


def _gbdt_loop(job: Job) -> None:
    import ray.train
    import ray.train.lightgbm

    from aiaas.classical.base import Selection
    from aiaas.dataplane.spill import TARGETS, WEIGHTS, Spill
    from aiaas.distributed.data import unpack
    from aiaas.plugins import get_host

    context = ray.train.get_context()
    runtime = get_host().runtime("classical")
    model = runtime.build(job.architecture, job.spec, job.params)
    with tempfile.TemporaryDirectory(prefix="aiaas-shard-") as scratch:
        spill = Spill(Path(scratch), job.chunk_rows, job.memory)
        for batch in ray.train.get_dataset_shard("train").iter_batches(batch_size=job.chunk_rows, batch_format="numpy"):
            spill.append(*unpack(batch))
        spill.close()
        if spill.rows == 0:
            raise UserError("a worker got no training rows: give fewer --workers than the data has rows")
        model.cluster = {**ray.train.lightgbm.get_network_params(), "tree_learner": "data", "pre_partition": True}
        # threads: LightGBM's default, OpenMP's, which Ray sets to the worker's CPUs (and a saved booster predicts on every core)
        resumed: list[int] = []
        checkpoint = ray.train.get_checkpoint()
        if checkpoint is not None:
            with checkpoint.as_directory() as folder:
                model.resume_from = (Path(folder) / "model.txt").read_text()
                resumed = [json.loads((Path(folder) / LOOP).read_text())["round"]]

        def every_rounds(env: Any) -> None:
            if (env.iteration + 1) % ROUNDS_PER_CHECKPOINT:
                return
            with tempfile.TemporaryDirectory() as folder:
                if context.get_world_rank() == 0:
                    env.model.save_model(str(Path(folder) / "model.txt"))
                    (Path(folder) / LOOP).write_text(json.dumps({"round": env.iteration + 1}))
                ray.train.report({"round": env.iteration + 1},
                                 checkpoint=ray.train.Checkpoint.from_directory(folder) if context.get_world_rank() == 0 else None)

        model.callbacks = [every_rounds]
        history = runtime.fit(model, (spill, spill.column(TARGETS), spill.column(WEIGHTS)), job.validation, job.config,
                              Selection(_selection(job)))
    with tempfile.TemporaryDirectory() as folder:
        if context.get_world_rank() == 0:
            runtime.save(model, Path(folder))
            (Path(folder) / LOOP).write_text(json.dumps({"history": history, "resumed": resumed}))
        ray.train.report({"final": 1}, checkpoint=ray.train.Checkpoint.from_directory(folder) if context.get_world_rank() == 0 else None)


def fit(job: Job, plan: RayPlan, dataset: Any, storage: tuple[str, Any], run: str) -> tuple[Any, list[dict[str, Any]], list[str]]:
    """Train ``job`` on the cluster, its checkpoints under ``storage`` (Ray's storage path and filesystem);
    return the model (loaded on the driver), its history and notes."""
    from ray.train import CheckpointConfig, FailureConfig, RunConfig

    run_config = RunConfig(name=run, storage_path=storage[0], storage_filesystem=storage[1],
                           failure_config=FailureConfig(max_failures=plan.max_failures), checkpoint_config=CheckpointConfig(num_to_keep=2))
    common = {"train_loop_config": job, "scaling_config": _scaling(plan), "run_config": run_config, "datasets": {"train": dataset}}
    if job.runtime == "torch":
        from ray.train.torch import TorchTrainer

        trainer: Any = TorchTrainer(_torch_loop, **common)
    elif job.runtime == "tensorflow":
        from ray.train.tensorflow import TensorflowTrainer

        trainer = TensorflowTrainer(_keras_loop, **common)
    elif job.runtime == "classical" and job.architecture.name == "gbdt":
        from ray.train.lightgbm import LightGBMTrainer

        trainer = LightGBMTrainer(_gbdt_loop, **common)
    else:
        raise UserError(f"--ray trains torch and Keras models and gbdt; {job.architecture.name} on {job.runtime} trains on one machine "
                        "(aiaas train --max-memory)")
    result = trainer.fit()  # a worker's UserError reaches the CLI through cluster.user_errors
    from aiaas.plugins import get_host

    runtime = get_host().runtime(job.runtime)
    with result.checkpoint.as_directory() as folder:
        loop = json.loads((Path(folder) / LOOP).read_text())
        if job.runtime == "classical":
            model = runtime.load(Path(folder), job.architecture, job.spec, job.params)
        else:  # the best epoch's weights
            from safetensors.numpy import load_file

            model = runtime.build(job.architecture, job.spec, job.params)
            best = load_file(str(Path(folder) / BEST))
            if job.runtime == "torch":
                import torch

                model.load_state_dict({k: torch.from_numpy(v) for k, v in best.items()})
            else:  # Keras: its variables in order
                from aiaas.runtimes.tensorflow import assign

                assign(model.variables, best)
    unit = "round" if job.runtime == "classical" else "epoch"
    notes = [f"{job.architecture.name} went on from its checkpoint after {unit} {at} (a worker or the driver had stopped)"
             for at in loop.get("resumed", [])]
    return model, loop["history"], notes


def _scaling(plan: RayPlan) -> Any:
    from ray.train import ScalingConfig

    resources = {"CPU": plan.cpus_per_worker, **({"GPU": plan.gpus_per_worker} if plan.gpus_per_worker else {})}
    return ScalingConfig(num_workers=plan.workers, use_gpu=plan.gpus_per_worker > 0, resources_per_worker=resources)
