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
from collections.abc import Callable
from typing import Annotated, Any

import numpy as np
from fastapi import HTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aiaas.errors import ModelUnavailable, NoModel, UserError
from aiaas.pipeline import Pipeline
from aiaas.plugins import Host
from aiaas.registry import Registry
from aiaas.serving.batcher import Batcher
from aiaas.serving.limits import CONTROL, INLINE_PARSE_BYTES, invalid_body, parse_json
from aiaas.serving.routes import Limits, validate_instances
from aiaas.tabular import frame_of_rows
from aiaas.versions import ServedModels

DATATYPES = {"integer": "INT64", "number": "FP64", "boolean": "BOOL", "string": "BYTES"}
INLINE_ELEMENTS = 4096
"""A request of at most this many tensor elements is validated on the event loop (well under a millisecond), larger ones in a thread."""


class Tensor(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    shape: list[Annotated[int, Field(ge=0, le=2**31)]] = Field(min_length=1, max_length=8)
    datatype: str
    data: list[Any] | None = None
    """None when the tensor comes in the binary part of the body (``parameters.binary_data_size``)."""
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


def _inputs(pipeline: Pipeline) -> list[dict[str, Any]]:
    return [{"name": n, "datatype": d, "shape": s} for n, (d, s, _) in _field_types(pipeline).items()]


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


def parse_request(found: Any) -> InferRequest:  # noqa: ANN401
    try:
        return InferRequest.model_validate(found)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ["body", *e["loc"]]} for e in exc.errors(include_url=False)]) from None


def read_infer(raw: bytes, tail: bytes, pipeline: Pipeline, max_instances: int) -> tuple[InferRequest, list[BaseModel]]:
    """The request (its JSON ``raw``, the binary inputs' bytes ``tail``) and its instances."""
    body = parse_request(parse_json(raw))
    attach_binary(body, tail)
    return body, validated(body, pipeline, max_instances)


def validated(body: InferRequest, pipeline: Pipeline, max_instances: int) -> list[BaseModel]:
    """The instances the tensors hold, validated by the served model's schema (a 422 names the input tensor and the row)."""
    try:
        return validate_instances(pipeline, instances_from(body, pipeline, max_instances))
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


OUTPUTS = (("probabilities", "FP32"), ("label", "BYTES"), ("novelty", "FP32"), ("in_distribution", "BOOL"))
"""Every output tensor an answer may have, in order, with its datatype."""


def _tensors(results: list[dict[str, Any]], wanted: list[str] | None) -> list[dict[str, Any]]:
    tensors = []
    for name, datatype in OUTPUTS:
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


# -- the binary tensor extension ---------------------------------------------------------

BINARY_TYPES = {"BOOL": "u1", "UINT8": "u1", "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8", "INT8": "i1", "INT16": "<i2",
                "INT32": "<i4", "INT64": "<i8", "FP16": "<f2", "FP32": "<f4", "FP64": "<f8"}
"""Fixed-size datatypes as little-endian numpy dtypes; BYTES elements are each a 4-byte little-endian length and the bytes."""
HEADER_LENGTH = "inference-header-content-length"


def binary_size(parameters: dict[str, Any] | None, where: list[Any]) -> int | None:
    size = (parameters or {}).get("binary_data_size")
    if size is None:
        return None
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise invalid_body([*where, "parameters", "binary_data_size"], f"binary_data_size is a whole number of bytes, not {size!r}")
    return size


def decode_binary(datatype: str, shape: list[int], chunk: bytes | memoryview, where: list[Any]) -> list[Any]:
    """A tensor's elements, flat, from its bytes: the element count must be what the shape declares."""
    count = math.prod(shape)
    if datatype == "BYTES":
        out: list[Any] = []
        view, at = memoryview(chunk), 0
        while at < len(view):
            if len(out) >= count:
                raise invalid_body(where, f"the binary data holds more than the {count} BYTES elements its shape declares")
            length = int.from_bytes(view[at:at + 4], "little") if at + 4 <= len(view) else len(view)
            at += 4
            if at + length > len(view):
                raise invalid_body(where, "a BYTES element's length runs past the end of its binary data")
            try:
                text = bytes(view[at:at + length]).decode("utf-8")
            except UnicodeDecodeError:
                raise invalid_body(where, "a BYTES element is not UTF-8 text") from None
            if CONTROL.search(text):  # as strict JSON refuses them in text
                raise invalid_body(where, "text holds control characters (only tab and line breaks are taken)", "string_unicode")
            out.append(text)
            at += length
        if len(out) != count:
            raise invalid_body(where, f"shape {shape} holds {count} values, the binary data has {len(out)}")
        return out
    dtype = BINARY_TYPES.get(datatype)
    if dtype is None:
        raise invalid_body(where, f"{datatype} cannot come as binary data; the datatypes are {', '.join([*BINARY_TYPES, 'BYTES'])}", "enum")
    itemsize = np.dtype(dtype).itemsize
    if len(chunk) != count * itemsize:
        raise invalid_body(where, f"shape {shape} of {datatype} is {count * itemsize} bytes, the binary data has {len(chunk)}")
    values = np.frombuffer(chunk, dtype=dtype)
    if datatype == "BOOL":
        if values.size and values.max() > 1:
            raise invalid_body(where, "BOOL elements are the bytes 0 and 1")
        return values.astype(bool).tolist()
    if values.dtype.kind == "f" and values.size and not np.isfinite(values).all():
        raise invalid_body(where, "NaN and infinite values are refused", "finite_number")
    return values.tolist()


def attach_binary(body: InferRequest, tail: bytes) -> None:
    """Give each input declared as binary its elements from the bytes after the JSON header, in input order."""
    view, at = memoryview(tail), 0
    for i, tensor in enumerate(body.inputs):
        size = binary_size(tensor.parameters, ["inputs", i])
        if size is None:
            if tensor.data is None:
                raise invalid_body(["inputs", i, "data"], f"{tensor.name} has no data (JSON data, or binary_data_size for binary data)", "missing")
            continue
        if tensor.data is not None:
            raise invalid_body(["inputs", i, "data"], f"{tensor.name} has both JSON data and binary_data_size")
        if at + size > len(view):
            raise invalid_body(["inputs", i, "parameters", "binary_data_size"],
                               f"{tensor.name} declares {size} bytes; {len(view) - at} are left in the body")
        tensor.data = decode_binary(tensor.datatype, tensor.shape, view[at:at + size], ["inputs", i, "data"])
        at += size
    if at != len(view):
        raise invalid_body(["inputs"], f"the body has {len(view) - at} bytes after the last binary input")


def encode_binary(datatype: str, data: list[Any]) -> bytes:
    if datatype == "BYTES":
        encoded = [str(v).encode("utf-8") for v in data]
        return b"".join(len(e).to_bytes(4, "little") + e for e in encoded)
    return np.asarray(data, dtype=BINARY_TYPES[datatype]).tobytes()


def wants_binary(body: InferRequest) -> set[str]:
    """The outputs to send as binary data: every one with ``binary_data_output``, else those asked for with ``binary_data``."""
    every = bool((body.parameters or {}).get("binary_data_output"))
    asked = {o.name: (o.model_extra or {}).get("parameters") or {} for o in body.outputs or []}
    return {n for n, _ in OUTPUTS if asked.get(n, {}).get("binary_data", every)}


# -- the protocol's answers, for HTTP and gRPC alike --------------------------------------

TRITON_TYPES = {"BOOL": "TYPE_BOOL", "INT64": "TYPE_INT64", "FP32": "TYPE_FP32", "FP64": "TYPE_FP64", "BYTES": "TYPE_STRING"}


def error_text(detail: Any) -> str:
    """One line from a ``detail`` (a string, or FastAPI's list of errors with their ``loc``)."""
    if isinstance(detail, list):
        lines = []
        for item in detail:
            if not isinstance(item, dict):
                lines.append(str(item))
                continue
            loc = [part for part in item.get("loc", []) if part != "body"]
            where = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(loc))
            lines.append(f"{where}: {item.get('msg', '')}" if where else str(item.get("msg", "")))
        return "; ".join(lines)
    return str(detail)


class V2Models:
    """What the protocol's routes answer, over HTTP (``v2_router``) and gRPC (``aiaas.serving.v2_grpc``): the
    same names, versions, validation, batcher, input checks and refusals as ``/predict``."""

    def __init__(self, host: Host, registry: Registry, served: ServedModels, batcher: Batcher, limits: Limits) -> None:
        self.host, self.registry, self.served, self.batcher, self.limits = host, registry, served, batcher, limits

    def name(self, model: str) -> str:
        if model not in self.host.components.tasks:
            raise HTTPException(404, f"no model named {model!r}; the models are {', '.join(sorted(self.host.components.tasks))}")
        return model

    async def pipeline(self, name: str, version: str | None, wait: float) -> Pipeline:
        """The served version, or the one asked for by number (loaded on demand, like a Ray replica's)."""
        if not version:
            return self.served.fresh(name) or await run_in_threadpool(self.served.get, name, wait)
        if not version.isdigit():
            raise HTTPException(404, f"{name} has no version {version!r}; versions are whole numbers")
        number = int(version)
        served = self.served.fresh(name)
        if served is not None and served.version == number:
            return served
        loaded = self.served.loaded(name, number)  # in memory: no registry read on each request for a version in use
        if loaded is not None:
            return loaded
        try:
            await run_in_threadpool(self.registry.get, name, number)
        except UserError as exc:
            raise HTTPException(404, str(exc)) from None
        return await run_in_threadpool(self.served.version, name, number, wait)

    async def ready(self, name: str, version: str | None) -> bool:
        try:
            await self.pipeline(name, version, 0.0)
        except (NoModel, ModelUnavailable, TimeoutError):
            return False
        return True

    async def metadata(self, name: str, version: str | None) -> dict[str, Any]:
        pipeline = await self.pipeline(name, version, self.limits.timeout)
        versions = [str(row.version) for row in await run_in_threadpool(self.registry.versions, name)]
        return {"name": name, "versions": versions, "platform": f"aiaas-{pipeline.runtime_name}",
                "inputs": _inputs(pipeline), "outputs": _outputs(pipeline), "parameters": {"served_version": str(pipeline.version), "labels": list(pipeline.labels.names)}}

    async def config(self, name: str, version: str | None) -> dict[str, Any]:
        """Triton's model configuration: the batch limit, and each input and output without the batch dimension."""
        pipeline = await self.pipeline(name, version, self.limits.timeout)

        def tensor(spec: dict[str, Any]) -> dict[str, Any]:
            return {"name": spec["name"], "data_type": TRITON_TYPES.get(spec["datatype"], "TYPE_STRING"), "dims": spec["shape"][1:] or [1]}

        return {"name": name, "platform": f"aiaas-{pipeline.runtime_name}", "backend": pipeline.runtime_name,
                "version_policy": {"specific": {"versions": [pipeline.version]}}, "max_batch_size": self.limits.max_instances,
                "input": [tensor(i) for i in _inputs(pipeline)], "output": [tensor(o) for o in _outputs(pipeline)],
                "dynamic_batching": {"max_queue_delay_microseconds": 0}, "parameters": {"labels": {"string_value": ",".join(pipeline.labels.names)}}}

    async def index(self, ready_only: bool = False) -> list[dict[str, Any]]:
        """Every task's served version: READY when it serves, UNAVAILABLE with the reason otherwise."""
        out = []
        for name in sorted(self.host.components.tasks):
            state, status = await run_in_threadpool(self.served.status, name)
            entry = {"name": name, "version": str(status.get("version") or ""), "state": "READY" if state == "serving" else "UNAVAILABLE",
                     "reason": "" if state == "serving" else str(status.get("status") or state)}
            if not ready_only or entry["state"] == "READY":
                out.append(entry)
        return out

    async def infer(self, name: str, version: str | None, body: InferRequest | tuple[bytes, bytes], deadline: float,
                    on_pipeline: Callable[[Pipeline], None] | None = None,
                    arrived: float | None = None) -> tuple[Pipeline, InferRequest, list[dict[str, Any]]]:
        """``body``: the request with its binary inputs attached (gRPC), or an HTTP body's JSON and binary parts;
        ``arrived``: when it reached the server (``Batcher.run``)."""
        pipeline = await self.pipeline(name, version, max(0.0, deadline - time.monotonic()))
        if on_pipeline is not None:
            on_pipeline(pipeline)
        if isinstance(body, tuple):
            raw, tail = body
            if len(raw) + len(tail) > INLINE_PARSE_BYTES:  # parsing and validating a large body would hold the event loop
                body, instances = await run_in_threadpool(read_infer, raw, tail, pipeline, self.limits.max_instances)
            else:
                body, instances = read_infer(raw, tail, pipeline, self.limits.max_instances)
        elif sum(math.prod(t.shape) for t in body.inputs) <= INLINE_ELEMENTS:  # a thread hop costs more than validating a few values
            instances = validated(body, pipeline, self.limits.max_instances)
        else:
            instances = await run_in_threadpool(validated, body, pipeline, self.limits.max_instances)
        rows = pipeline.rows_from(instances) if pipeline.task.decode is None else await run_in_threadpool(pipeline.rows_from, instances)
        return pipeline, body, await self.batcher.run(name, pipeline, infer_work, rows, deadline, arrived)


def output_tensors(results: list[dict[str, Any]], body: InferRequest) -> list[dict[str, Any]]:
    """The answer's tensors, as JSON data (``data``) or binary (``raw``), as the request asked."""
    wanted = [o.name for o in body.outputs] if body.outputs else None
    binary = wants_binary(body)
    tensors = _tensors(results, wanted)
    for tensor in tensors:
        if tensor["name"] in binary:
            tensor["raw"] = encode_binary(tensor["datatype"], tensor.pop("data"))
            tensor["parameters"] = {"binary_data_size": len(tensor["raw"])}
    return tensors
