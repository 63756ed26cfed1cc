"""The Open Inference Protocol (KServe V2) beside the domain routes, so V2 clients and
tools (tritonclient, KServe's InferenceServer clients, load testers) reach every task.

A task's model name is its own name (``finance/fraud``), so ``/v2/models/finance/fraud/infer``
is what a V2 client builds from it. Each input tensor is one field of the task's input
schema, element ``i`` its value for instance ``i`` (a field that holds a list or an object
comes as a BYTES element of JSON). The answer is tensors: ``probabilities`` (one column per
label), ``label``, and the input check's ``novelty`` and ``in_distribution``. Requests go
through the same validation, batcher, input checks and refusals as ``/predict``.
"""

from __future__ import annotations

import json
import math
import time
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aiaas.errors import ModelUnavailable, NoModel
from aiaas.pipeline import Pipeline
from aiaas.plugins import Host
from aiaas.registry import Registry
from aiaas.serving.batcher import Batcher
from aiaas.serving.limits import INLINE_PARSE_BYTES, invalid_body, parse_json, require_json
from aiaas.serving.routes import Limits, request_timeout, validate_instances
from aiaas.tabular import frame_of_rows
from aiaas.versions import ServedModels

DATATYPES = {"integer": "INT64", "number": "FP64", "boolean": "BOOL", "string": "BYTES"}


class Tensor(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    shape: list[Annotated[int, Field(ge=0, le=2**31)]] = Field(min_length=1, max_length=8)
    datatype: str
    data: list[Any]
    parameters: dict[str, Any] | None = None


class Requested(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str


class InferRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    parameters: dict[str, Any] | None = None
    inputs: list[Tensor] = Field(min_length=1)
    outputs: list[Requested] | None = None


def _field_types(pipeline: Pipeline) -> dict[str, tuple[str, list[int], bool]]:
    """Each input field's V2 datatype, shape (-1: the batch), and whether it holds a list or an
    object (sent as JSON in BYTES elements)."""
    def make() -> dict[str, tuple[str, list[int], bool]]:
        schema = pipeline.input_model.model_json_schema()
        out = {}
        for name, prop in schema.get("properties", {}).items():
            kinds = [p.get("type") for p in prop.get("anyOf", [prop]) if p.get("type") != "null"]
            kind = kinds[0] if kinds else None
            out[name] = (DATATYPES.get(kind or "", "BYTES"), [-1], kind not in DATATYPES)
        return out

    return pipeline.memo("v2-inputs", make)


def _outputs(pipeline: Pipeline) -> list[dict[str, Any]]:
    labels = pipeline.labels
    outputs = [{"name": "probabilities", "datatype": "FP32", "shape": [-1, len(labels.names)] if labels.kind != "sequence" else [-1, -1]}]
    if labels.kind in ("binary", "multiclass", "multilabel"):
        outputs.append({"name": "label", "datatype": "BYTES", "shape": [-1]})
    if pipeline.guard is not None:
        outputs += [{"name": "novelty", "datatype": "FP32", "shape": [-1]}, {"name": "in_distribution", "datatype": "BOOL", "shape": [-1]}]
    return outputs


NUMBERS = {"INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64", "FP16", "FP32", "FP64"}
ACCEPTED = {"FP64": NUMBERS, "INT64": NUMBERS - {"FP16", "FP32", "FP64"}, "BOOL": {"BOOL"}, "BYTES": {"BYTES"}}
"""The tensor datatypes each kind of input field takes."""


def _checked_shapes(body: InferRequest, fields: dict[str, tuple[str, list[int], bool]], task: str, max_instances: int) -> int:
    """The batch size the tensors declare, after checking every name, datatype, shape and element count
    against the task's inputs and the instance limit: nothing is allocated for a request refused here."""
    rows: int | None = None
    seen: set[str] = set()
    for i, tensor in enumerate(body.inputs):
        if tensor.name not in fields:
            raise invalid_body(["inputs", i, "name"], f"{tensor.name!r} is not an input of {task}; its inputs are {', '.join(fields)}",
                               "extra_forbidden")
        if tensor.name in seen:
            raise invalid_body(["inputs", i, "name"], f"input {tensor.name!r} is given twice")
        seen.add(tensor.name)
        expected, _, structured = fields[tensor.name]
        if not structured and tensor.datatype not in ACCEPTED[expected]:
            raise invalid_body(["inputs", i, "datatype"], f"{tensor.name} is {expected}: it takes {', '.join(sorted(ACCEPTED[expected]))}, "
                                                          f"not {tensor.datatype}", "enum")
        if tensor.shape[0] > max_instances:
            raise invalid_body(["inputs", i, "shape"], f"{tensor.shape[0]} instances is more than the limit of {max_instances} per request",
                               "too_long")
        if rows is not None and tensor.shape[0] != rows:
            raise invalid_body(["inputs", i, "shape"], f"every input has the same first dimension (the batch): {rows}, not {tensor.shape[0]}")
        rows = tensor.shape[0]
        if not structured and math.prod(tensor.shape[1:]) != 1:
            raise invalid_body(["inputs", i, "shape"], f"{tensor.name} holds one value per instance: shape [{rows}] or [{rows}, 1], "
                                                       f"not {tensor.shape}")
        count, given = math.prod(tensor.shape), _flat_length(tensor.data)  # the data is bounded by the body's size
        if count != given:
            raise invalid_body(["inputs", i, "data"], f"shape {tensor.shape} holds {count} values, data has {given}")
    if not rows:
        raise invalid_body(["inputs"], "the inputs hold no instances (the first dimension is 0)")
    return rows


def _flat_length(data: list[Any]) -> int:
    """Elements in a tensor's data, flat or nested row-major, without copying it."""
    count, stack = 0, [data]
    while stack:
        items = stack.pop()
        for item in items:
            if isinstance(item, list):
                stack.append(item)
            else:
                count += 1
    return count


def instances_from(body: InferRequest, pipeline: Pipeline, max_instances: int) -> list[dict[str, Any]]:
    """One instance per row of the input tensors, each tensor one field of the task's input."""
    fields = _field_types(pipeline)
    rows = _checked_shapes(body, fields, pipeline.task.name, max_instances)
    columns: dict[str, list[Any]] = {}
    for i, tensor in enumerate(body.inputs):
        flat = np.asarray(tensor.data, dtype=object).reshape(-1) if tensor.data and isinstance(tensor.data[0], list) else tensor.data
        width = math.prod(tensor.shape[1:])
        values = list(flat) if width == 1 else [np.asarray(flat[r * width:(r + 1) * width], dtype=object).reshape(tensor.shape[1:]).tolist()
                                                 for r in range(rows)]
        if tensor.datatype == "BYTES" and fields[tensor.name][2]:  # a list or object field, sent as JSON
            try:
                values = [json.loads(v) if isinstance(v, str) else v for v in values]
            except ValueError:
                raise invalid_body(["inputs", i, "data"], f"{tensor.name} takes JSON in its BYTES elements") from None
        columns[tensor.name] = values
    return [{name: values[r] for name, values in columns.items()} for r in range(rows)]


def read_infer(raw: bytes, pipeline: Pipeline, max_instances: int) -> tuple[InferRequest, list[BaseModel]]:
    """The request and its instances, validated by the served model's schema (a 422 names the input tensor and the row)."""
    try:
        body = InferRequest.model_validate(parse_json(raw))
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ["body", *e["loc"]]} for e in exc.errors(include_url=False)]) from None
    try:
        return body, validate_instances(pipeline, instances_from(body, pipeline, max_instances))
    except RequestValidationError as exc:  # body.inputs.<field>.<row>
        raise RequestValidationError([{**e, "loc": ["body", "inputs", *e["loc"][3:4], *e["loc"][2:3], *e["loc"][4:]]}
                                      if list(e["loc"][:2]) == ["body", "instances"] else e for e in exc.errors()]) from None


def infer_work(pipeline: Pipeline, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row's probabilities, label and input check; a row the task refuses fails the request (422)."""
    from aiaas.answers import classification_calls

    records = frame_of_rows(rows)
    finding = pipeline.check(records)
    if pipeline.task.refuse_unfamiliar:
        pipeline.refuse(finding)
    p = pipeline.probabilities(records)
    out: list[dict[str, Any]] = []
    labelled = classification_calls(pipeline, p) if pipeline.labels.kind in ("binary", "multiclass", "multilabel") else None
    for i in range(len(records)):
        row: dict[str, Any] = {}
        if labelled is not None:
            row["label"] = labelled[i].label
            row["probabilities"] = [labelled[i].probabilities[n] for n in pipeline.labels.names]
        else:
            row["probabilities"] = np.asarray(p[i], dtype=float).reshape(-1).tolist()
        if finding is not None:
            row["novelty"], row["in_distribution"] = float(finding.novelty[i]), not bool(finding.flagged[i])
        out.append(row)
    return out


def _tensors(results: list[dict[str, Any]], wanted: list[str] | None) -> list[dict[str, Any]]:
    tensors = []
    for name, datatype in (("probabilities", "FP32"), ("label", "BYTES"), ("novelty", "FP32"), ("in_distribution", "BOOL")):
        if name not in results[0] or (wanted is not None and name not in wanted):
            continue
        values = [r[name] for r in results]
        width = len(values[0]) if isinstance(values[0], list) else None
        if width is not None and any(len(v) != width for v in values):  # ragged (sequences of different lengths): pad with NaN
            width = max(len(v) for v in values)
            values = [v + [float("nan")] * (width - len(v)) for v in values]
        data = [x for v in values for x in v] if width is not None else values
        tensors.append({"name": name, "datatype": datatype, "shape": [len(values)] + ([width] if width is not None else []), "data": data})
    return tensors


def v2_router(host: Host, registry: Registry, served: ServedModels, batcher: Batcher, limits: Limits) -> APIRouter:
    router = APIRouter(prefix="/v2", tags=["open inference protocol (V2)"])

    def task_name(industry: str, task: str) -> str:
        name = f"{industry}/{task}"
        if name not in host.components.tasks:
            raise HTTPException(404, f"no model named {name!r}; the models are {', '.join(sorted(host.components.tasks))}")
        return name

    @router.get("", summary="Server metadata")
    def server() -> dict[str, Any]:
        import aiaas

        return {"name": "aiaas", "version": aiaas.__version__, "extensions": []}

    @router.get("/health/live", summary="The server is up")
    async def live() -> dict[str, bool]:
        return {"live": True}

    @router.get("/health/ready", summary="The server can answer", responses={503: {"description": "starting (promoted versions still loading), "
                                                                                       "or the registry is unreachable"}})
    async def ready() -> Any:
        from fastapi.responses import JSONResponse

        try:
            await run_in_threadpool(registry.ping)
        except Exception:
            return JSONResponse({"ready": False}, status_code=503)
        return JSONResponse({"ready": False}, status_code=503) if served.warming.is_set() else {"ready": True}

    @router.get("/models/{industry}/{task}", summary="A model's metadata: its inputs and outputs as tensors")
    async def metadata(industry: str, task: str) -> dict[str, Any]:
        name = task_name(industry, task)
        pipeline = await run_in_threadpool(served.get, name)
        versions = [str(row.version) for row in await run_in_threadpool(registry.versions, name)]
        return {"name": name, "versions": versions, "platform": f"aiaas-{pipeline.runtime_name}",
                "inputs": [{"name": n, "datatype": d, "shape": s} for n, (d, s, _) in _field_types(pipeline).items()],
                "outputs": _outputs(pipeline), "parameters": {"served_version": str(pipeline.version), "labels": list(pipeline.labels.names)}}

    @router.get("/models/{industry}/{task}/ready", summary="The model is loaded and serving")
    async def model_ready(industry: str, task: str) -> Any:
        from fastapi.responses import JSONResponse

        name = task_name(industry, task)
        try:
            await run_in_threadpool(served.get, name)
        except (NoModel, ModelUnavailable):
            return JSONResponse({"name": name, "ready": False}, status_code=503)
        return {"name": name, "ready": True}

    @router.post("/models/{industry}/{task}/infer", summary="Tensors in, tensors out",
                 responses={422: {"description": "a tensor does not fit the model's inputs (detail names it), or the task refuses the input"},
                            503: {"description": "no model of this task is promoted, or the task is at capacity (see Retry-After)"}},
                 openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": InferRequest.model_json_schema()}}}})
    async def infer(industry: str, task: str, request: Request) -> dict[str, Any]:
        name = task_name(industry, task)
        deadline = time.monotonic() + request_timeout(request, limits)
        pipeline = served.fresh(name) or await run_in_threadpool(served.get, name, deadline - time.monotonic())
        request.state.model_version = pipeline.version
        require_json(request.headers.get("content-type", ""))
        raw = await request.body()
        if len(raw) > INLINE_PARSE_BYTES:  # parsing and validating a large body would hold the event loop
            body, instances = await run_in_threadpool(read_infer, raw, pipeline, limits.max_instances)
        else:
            body, instances = read_infer(raw, pipeline, limits.max_instances)
        rows = pipeline.rows_from(instances) if pipeline.task.decode is None else await run_in_threadpool(pipeline.rows_from, instances)
        results = await batcher.run(name, pipeline, infer_work, rows, deadline)
        wanted = [o.name for o in body.outputs] if body.outputs else None
        return {"model_name": name, "model_version": str(pipeline.version), **({"id": body.id} if body.id is not None else {}),
                "outputs": _tensors(results, wanted)}

    return router
