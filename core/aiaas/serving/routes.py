"""Per-task routes generated from the task's records: predict, explain and feedback.

Before a request gets here, middleware has given it a request id, shed it if the
task is at capacity, checked its key and scope, and capped its body (``app.py``).
Then it flows: strict JSON body (or, for a task with an ``upload_field``, a
``multipart/form-data`` upload of files) -> instances validated by the *served*
model's input model (a tabular model trained on a team's own columns has its own
schema) -> records (the task's ``decode``: an uploaded image becomes pixels) ->
the task's batcher, which joins them with concurrent requests (or refuses them,
or drops them when their deadline passes) -> one DataFrame -> ``Pipeline.predict``
(preprocess, model, postprocess) in a worker thread -> JSON, each answer with its
``prediction_id``, recorded in the prediction log off the request path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from aiaas.errors import InvalidInput, Refused, UnsupportedMedia
from aiaas.novelty.guard import InputCheckResult
from aiaas.monitoring.predictions import PredictionLog, new_id
from aiaas.pipeline import Pipeline
from aiaas.records import LabelSchema, Task, resolve
from aiaas.serving.batcher import Batcher, Work
from aiaas.serving.limits import INLINE_PARSE_BYTES, parse_json_off_loop, require_json, strict_json_body
from aiaas.tabular import frame_of_rows
from aiaas.versions import STALE, Arm, ServedModels


@dataclass(frozen=True)
class Limits:
    max_instances: int
    max_bytes: int
    timeout: float = 10.0


def request_timeout(request: Request, limits: Limits) -> float:
    """Seconds the client will wait (``X-Request-Timeout``), at most the server's own timeout."""
    given = request.headers.get("x-request-timeout")
    if given is None:
        return limits.timeout
    try:
        seconds = float(given)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds < float("inf"):
        raise RequestValidationError([{"loc": ["header", "x-request-timeout"], "msg": "give the seconds you will wait, a positive number",
                                       "type": "float_parsing"}])
    return min(seconds, limits.timeout)


class ModelInfo(BaseModel):
    task: str
    version: int
    runtime: str
    architecture: str


def model_info(pipeline: Pipeline) -> dict[str, Any]:
    return {"task": pipeline.task.name, "version": pipeline.version, "runtime": pipeline.runtime_name,
            "architecture": pipeline.manifest["architecture"]}


def true_label(labels: LabelSchema, value: str | int | bool) -> str:
    """A feedback label as one of the schema's label names (0/1 for a yes/no or per-step task)."""
    import numpy as np

    from aiaas.labels import encode

    if labels.kind == "regression":
        return str(float(value))
    binary = labels if labels.kind != "sequence" else replace(labels, kind="binary")
    try:
        index = int(encode(binary, pd.Series([str(int(value)) if isinstance(value, bool) else str(value)]), "label")[0])
    except InvalidInput:
        raise RequestValidationError([{"loc": ["body", "label"], "type": "enum",
                                       "msg": f"{value!r} is not a label of {labels.name} ({', '.join(labels.names)})"}]) from None
    if binary.kind == "binary":
        positive = binary.positive or binary.names[1]
        return positive if index == 1 else next(n for n in binary.names if n != positive)
    return binary.names[int(np.clip(index, 0, len(binary.names) - 1))]


def _camel(task: Task) -> str:
    return "".join(part.capitalize() for part in task.name.replace("-", "/").replace("_", "/").split("/"))


@lru_cache(maxsize=64)
def _instances_adapter(model: type[BaseModel]) -> TypeAdapter[list[Any]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def request_models(task: Task, max_instances: int) -> tuple[type[BaseModel], type[BaseModel], type[BaseModel], type[BaseModel]]:
    """(predict request, explain request, predict response, explain response) models, for validation limits and the docs."""
    name = _camel(task)
    instance = resolve(task.input_model)
    answer = resolve(task.output_model)
    request = create_model(f"{name}Request", __config__=ConfigDict(extra="forbid"),
                           instances=(list[instance], Field(min_length=1, max_length=max_instances)),
                           explain=(bool, Field(default=task.explain_in_predict, description="include explanations in /predict answers")))
    explained = instance
    if task.explain_requires:  # what an explanation needs that a prediction does not, required in /explain's schema
        explained = create_model(f"{instance.__name__}ToExplain", __base__=instance, **{
            field: (_not_none(instance.model_fields[field].annotation), Field(description=instance.model_fields[field].description))
            for field in task.explain_requires})
    explain_request = create_model(f"{name}ExplainRequest", __config__=ConfigDict(extra="forbid"),
                                   instances=(list[explained], Field(min_length=1, max_length=max_instances)))
    logged = create_model(f"{name}Prediction", __base__=answer,
                          prediction_id=(str | None, Field(default=None, description="quote it to send feedback on this answer")),
                          input_check=(InputCheckResult | None, Field(default=None, description="how like the training data the input is")))
    predict = create_model(f"{name}Predictions", predictions=(list[logged], ...), model=(ModelInfo, ...))
    explain = create_model(f"{name}Explanations", explanations=(list[dict[str, Any]], ...), model=(ModelInfo, ...))
    return request, explain_request, predict, explain


def _not_none(annotation: Any) -> Any:
    """``X | None`` -> ``X``."""
    import types
    import typing

    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        kept = [a for a in typing.get_args(annotation) if a is not type(None)]
        return typing.Union[tuple(kept)] if len(kept) > 1 else kept[0]
    return annotation


def _too_many(count: int, limits: Limits, what: str = "instances") -> RequestValidationError:
    return RequestValidationError([{"loc": ["body", what], "type": "too_long",
                                    "msg": f"{count} {what} is more than the limit of {limits.max_instances} per request"}])


async def read_uploads(request: Request, task: Task, limits: Limits) -> list[dict[str, Any]]:
    """Each file part of a multipart upload becomes an instance with the file in the
    task's ``upload_field`` and its position in ``filename`` ("part 0"): answers and errors
    never echo the name the file had on the client's disk."""
    from starlette.datastructures import UploadFile

    if not task.upload_field:
        raise UnsupportedMedia(f"{task.name} takes a JSON body; multipart uploads are for tasks that read files")
    form = await request.form(max_files=limits.max_instances + 1, max_fields=16)
    try:
        unexpected = [key for key, value in form.multi_items() if not isinstance(value, UploadFile)]
        if unexpected:
            raise RequestValidationError([{"loc": ["body", unexpected[0]], "type": "extra_forbidden",
                                           "msg": f"unknown form field {unexpected[0]!r}; send the files as file parts"}])
        files = [value for _, value in form.multi_items() if isinstance(value, UploadFile)]
        if not files:
            raise RequestValidationError([{"loc": ["body", "files"], "type": "missing", "msg": "the upload holds no files"}])
        if len(files) > limits.max_instances:
            raise _too_many(len(files), limits, "files")
        # each file is named by its position, never by its name: a hospital's file names often carry the patient's name
        return [{task.upload_field: await f.read(), "filename": f"part {i}"} for i, f in enumerate(files)]
    finally:
        await form.close()


async def read_instances(request: Request, task: Task, pipeline: Pipeline, limits: Limits) -> tuple[list[BaseModel], bool]:
    """The body's instances, validated by the served model's schema (422s name the field),
    and whether the answers should carry explanations (``"explain"``, else the task's default)."""
    raw = await request.body()  # kept by the request, so a multipart parse reads it from memory (BodyLimit caps it)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        return validate_instances(pipeline, await read_uploads(request, task, limits)), task.explain_in_predict
    require_json(content_type)
    body = await parse_json_off_loop(raw)
    if not isinstance(body, dict) or "instances" not in body:
        raise RequestValidationError([{"loc": ["body", "instances"], "msg": 'body must be an object {"instances": [...]}', "type": "missing"}])
    extra = sorted(set(body) - {"instances", "explain"})
    if extra:
        raise RequestValidationError([{"loc": ["body", extra[0]], "msg": f"unknown field {extra[0]!r}", "type": "extra_forbidden"}])
    instances = body["instances"]
    if not isinstance(instances, list) or not instances:
        raise RequestValidationError([{"loc": ["body", "instances"], "msg": "instances must be a non-empty list", "type": "list_type"}])
    if len(instances) > limits.max_instances:
        raise _too_many(len(instances), limits)
    explain = body.get("explain", task.explain_in_predict)
    if not isinstance(explain, bool):
        raise RequestValidationError([{"loc": ["body", "explain"], "msg": "explain must be true or false", "type": "bool_type"}])
    if len(raw) > INLINE_PARSE_BYTES:  # validating thousands of instances would hold the event loop
        return await run_in_threadpool(validate_instances, pipeline, instances), explain
    return validate_instances(pipeline, instances), explain


def validate_instances(pipeline: Pipeline, instances: list[Any]) -> list[BaseModel]:
    """Instances as the served version's input model reads them; a 422 names each field that does not fit."""
    try:
        return _instances_adapter(pipeline.input_model).validate_python(instances)
    except ValidationError as exc:
        errors = [{**e, "loc": ["body", "instances", *e["loc"]]} for e in exc.errors(include_url=False)]
        for error in errors:  # never echo a whole uploaded image back
            if isinstance(error.get("input"), (str, bytes)) and len(error["input"]) > 120:
                error["input"] = f"{error['input'][:40]!r}... ({len(error['input'])} characters)"
        raise RequestValidationError(errors) from None


def predict_work(pipeline: Pipeline, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return pipeline.answers(frame_of_rows(rows), explain=False)


def predict_explained_work(pipeline: Pipeline, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return pipeline.answers(frame_of_rows(rows), explain=True)


def explain_work(pipeline: Pipeline, rows: list[dict[str, Any]]) -> list[Any]:
    records = frame_of_rows(rows)
    if pipeline.task.refuse_unfamiliar:  # what the task does not answer, it does not explain either
        pipeline.refuse(pipeline.check(records))
    return jsonable_encoder(pipeline.explain(records))


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prediction_id: str = Field(min_length=32, max_length=32, pattern=r"^[0-9a-f]{32}$")
    label: str | int | bool = Field(description="the true outcome: one of the task's labels (or 0/1 for a yes/no task)")


def _record(predictions: PredictionLog | None, request: Request, task: Task, pipeline: Pipeline, instances: list[BaseModel],
            results: list[dict[str, Any]], rollout: list[dict[str, Any]] | None = None) -> None:
    """Give each answer its prediction id and put it in the prediction log; ``rollout`` (one per
    answer) says a canary gave it or, for a shadow's answer, which logged answer it shadows."""
    if predictions is None:
        return
    caller = getattr(request.state, "caller", None)
    for i, (instance, result) in enumerate(zip(instances, results)):
        result["prediction_id"] = new_id()
        predictions.record(prediction_id=result["prediction_id"], request_id=getattr(request.state, "request_id", ""), task=task.name,
                           version=pipeline.version or 0, key=getattr(caller, "name", None),
                           answer={**result, "rollout": rollout[i]} if rollout else result,
                           instance=instance, log_inputs=task.log_inputs, omit=task.log_omit,
                           subject=str(getattr(instance, task.subject_field)) if task.subject_field else None)


def client_of(request: Request) -> str:
    """Who is asking, for a canary that keeps each client on one side: the key's name, else the address."""
    caller = getattr(request.state, "caller", None)
    if caller is not None:
        return f"key:{caller.name}"
    return f"address:{request.client.host if request.client else ''}"


def task_router(task: Task, served: ServedModels, limits: Limits, batcher: Batcher, predictions: PredictionLog | None = None,
                on_flagged: Callable[[str, int | None, int, str], None] | None = None) -> APIRouter:
    """``on_flagged(task, version, count, "answered" | "refused")`` hears of inputs flagged as unlike the training data."""
    router = APIRouter(prefix=f"/v1/{task.name}", tags=[task.name])
    request_model, explain_request, predict_model, explain_model = request_models(task, limits.max_instances)
    content: dict[str, Any] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{request_model.__name__}"}}}
    explain_content: dict[str, Any] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{explain_request.__name__}"}}}
    errors_doc: dict[int | str, dict[str, Any]] = {413: {"description": "the body (or an image's pixel count) is over the limit"},
                                                   422: {"description": "an instance does not fit the schema (detail names the field), or the task "
                                                               "refuses an input unlike its training data (detail names the reason)"},
                                                   503: {"description": "no model of this task is promoted, or the task is at capacity (see Retry-After)"}}
    if task.upload_field:
        content["multipart/form-data"] = explain_content["multipart/form-data"] = {"schema": {
            "type": "object", "required": ["files"], "additionalProperties": False, "properties": {
                "files": {"type": "array", "items": {"type": "string", "format": "binary"}, "minItems": 1, "maxItems": limits.max_instances,
                          "description": "one or more files, each one instance (the server takes any part name)"}}}}
        errors_doc[415] = {"description": "a file of a type the task does not read; detail names the file by its position"}
    body_doc = {"requestBody": {"required": True, "content": content}}
    explain_doc = {"requestBody": {"required": True, "content": explain_content}}

    async def answer(request: Request, key: str, work: Work) -> JSONResponse:
        """Validate against the served version, then run ``work`` in a batch with concurrent requests."""
        deadline = time.monotonic() + request_timeout(request, limits)
        # Each await that leaves the event loop queues this request behind every other: skip those that need not.
        pipeline = served.fresh(task.name) or await run_in_threadpool(served.get, task.name, deadline - time.monotonic())
        arm = served.fresh_arm(task.name)
        if arm is STALE:
            arm = await run_in_threadpool(served.arm, task.name)
        canary = isinstance(arm, Arm) and arm.answers(client_of(request))
        if canary:
            pipeline = arm.pipeline  # type: ignore[union-attr]
        request.state.model_version = pipeline.version
        instances, explain = await read_instances(request, task, pipeline, limits)
        if work is predict_work and explain:
            work = predict_explained_work
        # decoding (an image) fails this request alone, before batching, and off the event loop
        rows = pipeline.rows_from(instances) if task.decode is None else await run_in_threadpool(pipeline.rows_from, instances)
        try:
            results = await batcher.run(task.name, pipeline, work, rows, deadline, getattr(request.state, "arrived", None))
        except Refused:
            if on_flagged is not None:
                on_flagged(task.name, pipeline.version, 1, "refused")
            raise
        if key == "predictions":
            flagged = sum(1 for r in results if not r.get("input_check", {}).get("in_distribution", True))
            if flagged and on_flagged is not None:
                on_flagged(task.name, pipeline.version, flagged, "answered")
            _record(predictions, request, task, pipeline, instances, results, [{"role": "canary"}] * len(results) if canary else None)
            if isinstance(arm, Arm) and arm.kind == "shadow" and predictions is not None:
                _shadows.add(asyncio.get_running_loop().create_task(shadow(request, arm, work, instances, rows, results)))
        return JSONResponse({key: results, "model": model_info(pipeline)})

    _shadows: set[asyncio.Task[None]] = set()

    async def shadow(request: Request, arm: Arm, work: Work, instances: list[BaseModel], rows: list[dict[str, Any]],
                     answered: list[dict[str, Any]]) -> None:
        """The shadow version answers the same rows, in its own queue, after the client has its answer;
        its answers go to the prediction log only. A shadow that is busy or fails costs production nothing."""
        try:
            results = await batcher.run(f"{task.name}#shadow", arm.pipeline, work, rows)
            _record(predictions, request, task, arm.pipeline, instances, results,
                    [{"role": "shadow", "of": a.get("prediction_id")} for a in answered])
        except Exception as exc:  # noqa: BLE001 - the client is answered already; say why in the log
            logging.getLogger("aiaas.serving").warning("%s: shadow version %s did not answer: %s", task.name, arm.version, exc)
        finally:
            _shadows.discard(asyncio.current_task())  # type: ignore[arg-type]

    @router.post("/predict", summary=f"Predict: {task.description or task.name}", openapi_extra=body_doc,
                 responses={200: {"model": predict_model}, **errors_doc})
    async def predict(request: Request) -> JSONResponse:
        return await answer(request, "predictions", predict_work)

    @router.post("/explain", summary=f"Explain each prediction of {task.name}", openapi_extra=explain_doc,
                 responses={200: {"model": explain_model}, **errors_doc})
    async def explain(request: Request) -> JSONResponse:
        return await answer(request, "explanations", explain_work)

    @router.post("/feedback", summary=f"Record the true outcome of a {task.name} prediction", status_code=201,
                 dependencies=[Depends(strict_json_body)], responses={404: {"description": "no logged prediction of this task has that id"}})
    async def feedback(body: FeedbackIn, request: Request) -> dict[str, Any]:
        if predictions is None:
            raise HTTPException(404, "the prediction log is off (AIAAS_PREDICTION_LOG=false), so feedback cannot be matched")
        logged = await run_in_threadpool(predictions.find, body.prediction_id)
        if logged is None or logged.task != task.name:
            raise HTTPException(404, f"no logged {task.name} prediction has id {body.prediction_id}")
        pipeline = await run_in_threadpool(served.get, task.name)
        label = true_label(pipeline.labels, body.label)
        caller = getattr(request.state, "caller", None)
        await run_in_threadpool(predictions.add_feedback, logged, label, getattr(caller, "name", None))
        return {"prediction_id": body.prediction_id, "label": label, "version": logged.version}

    router.extra_schemas = [request_model, explain_request]  # type: ignore[attr-defined]
    router.predict = predict  # type: ignore[attr-defined]  # for the fast path (fastpath.py)
    return router
