"""Per-task routes generated from the task's records: predict and explain.

A request flows: JSON body -> instances validated by the *served* model's input
model (a tabular model trained on a team's own columns has its own schema) ->
the task's batcher, which joins it with concurrent requests -> one DataFrame ->
``Pipeline.predict`` (preprocess, model, postprocess) in a worker thread -> JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, TypeAdapter, ValidationError, create_model

from aiaas.pipeline import Pipeline
from aiaas.records import Task, resolve
from aiaas.serving.batcher import Batcher, Work
from aiaas.versions import ServedModels


@dataclass(frozen=True)
class Limits:
    max_instances: int
    max_bytes: int


class ModelInfo(BaseModel):
    task: str
    version: int
    runtime: str
    architecture: str


def model_info(pipeline: Pipeline) -> dict[str, Any]:
    return {"task": pipeline.task.name, "version": pipeline.version, "runtime": pipeline.runtime_name,
            "architecture": pipeline.manifest["architecture"]}


def _camel(task: Task) -> str:
    return "".join(part.capitalize() for part in task.name.replace("-", "/").replace("_", "/").split("/"))


@lru_cache(maxsize=64)
def _instances_adapter(model: type[BaseModel]) -> TypeAdapter[list[Any]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def request_models(task: Task, max_instances: int) -> tuple[type[BaseModel], type[BaseModel], type[BaseModel]]:
    """(request, predict response, explain response) models, for validation limits and the docs."""
    name = _camel(task)
    instance = resolve(task.input_model)
    answer = resolve(task.output_model)
    request = create_model(f"{name}Request", instances=(list[instance], Field(min_length=1, max_length=max_instances)))
    predict = create_model(f"{name}Predictions", predictions=(list[answer], ...), model=(ModelInfo, ...))
    explain = create_model(f"{name}Explanations", explanations=(list[dict[str, Any]], ...), model=(ModelInfo, ...))
    return request, predict, explain


async def read_instances(request: Request, pipeline: Pipeline, limits: Limits) -> list[BaseModel]:
    """The body's instances, validated by the served model's schema; 422s name the field."""
    raw = await request.body()
    if len(raw) > limits.max_bytes:  # a chunked body carries no Content-Length for the middleware to check
        raise HTTPException(413, f"request body of {len(raw)} bytes is over the limit of {limits.max_bytes}")
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RequestValidationError([{"loc": ["body"], "msg": f"body is not valid JSON: {exc}", "type": "json_invalid"}]) from None
    if not isinstance(body, dict) or "instances" not in body:
        raise RequestValidationError([{"loc": ["body", "instances"], "msg": 'body must be an object {"instances": [...]}', "type": "missing"}])
    extra = sorted(set(body) - {"instances"})
    if extra:
        raise RequestValidationError([{"loc": ["body", extra[0]], "msg": f"unknown field {extra[0]!r}", "type": "extra_forbidden"}])
    instances = body["instances"]
    if not isinstance(instances, list) or not instances:
        raise RequestValidationError([{"loc": ["body", "instances"], "msg": "instances must be a non-empty list", "type": "list_type"}])
    if len(instances) > limits.max_instances:
        raise RequestValidationError([{"loc": ["body", "instances"], "type": "too_long",
                                       "msg": f"{len(instances)} instances is more than the limit of {limits.max_instances} per request"}])
    try:
        return _instances_adapter(pipeline.input_model).validate_python(instances)
    except ValidationError as exc:
        errors = [{**e, "loc": ["body", "instances", *e["loc"]]} for e in exc.errors(include_url=False)]
        raise RequestValidationError(jsonable_encoder(errors, custom_encoder={Exception: str})) from None


def predict_work(pipeline: Pipeline, instances: list[BaseModel]) -> list[dict[str, Any]]:
    return [answer.model_dump(mode="json") for answer in pipeline.predict(pipeline.records_from(instances))]


def explain_work(pipeline: Pipeline, instances: list[BaseModel]) -> list[Any]:
    return jsonable_encoder(pipeline.explain(pipeline.records_from(instances)))


def task_router(task: Task, served: ServedModels, limits: Limits, batcher: Batcher) -> APIRouter:
    router = APIRouter(prefix=f"/v1/{task.name}", tags=[task.name])
    request_model, predict_model, explain_model = request_models(task, limits.max_instances)
    body_doc = {"requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{request_model.__name__}"}}}}}
    errors_doc: dict[int | str, dict[str, Any]] = {422: {"description": "an instance does not fit the schema; detail names the field"},
                                                   503: {"description": "no model of this task is promoted"}}

    async def answer(request: Request, key: str, work: Work) -> JSONResponse:
        """Validate against the served version, then run ``work`` in a batch with concurrent requests."""
        pipeline = await run_in_threadpool(served.get, task.name)
        instances = await read_instances(request, pipeline, limits)
        results = await batcher.run(task.name, pipeline, work, instances)
        return JSONResponse({key: results, "model": model_info(pipeline)})

    @router.post("/predict", summary=f"Predict: {task.description or task.name}", openapi_extra=body_doc,
                 responses={200: {"model": predict_model}, **errors_doc})
    async def predict(request: Request) -> JSONResponse:
        return await answer(request, "predictions", predict_work)

    @router.post("/explain", summary=f"Explain each prediction of {task.name}", openapi_extra=body_doc,
                 responses={200: {"model": explain_model}, **errors_doc})
    async def explain(request: Request) -> JSONResponse:
        return await answer(request, "explanations", explain_work)

    router.extra_schemas = [request_model]  # type: ignore[attr-defined]
    return router
