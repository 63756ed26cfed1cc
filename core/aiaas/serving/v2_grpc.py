"""The Open Inference Protocol over gRPC (``inference.GRPCInferenceService``), beside the HTTP port.

The messages are KServe's ``grpc_predict_v2.proto`` as Triton extends it, compiled in
``tritonclient[grpc]`` (the ``aiaas[grpc]`` extra), so ``tritonclient.grpc`` and KServe's
clients work unchanged. Each call goes through the same keys (``authorization: Bearer <key>``
in the call's metadata), names, versions, validation, batcher, input checks and refusals as
``/v2`` over HTTP (``V2Models``); errors are gRPC status codes with the same one-line message.
The server runs on the HTTP server's event loop, so both share one batcher per task.
"""

from __future__ import annotations

import json
import logging
import math
import time
from typing import Any

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError

from aiaas.errors import InvalidInput, NoModel, NotFound, UserError
from aiaas.serving.batcher import Overloaded
from aiaas.serving.v2 import InferRequest, decode_binary, error_text, output_tensors, parse_request
from aiaas.serving.v2_http import EXTENSIONS

log = logging.getLogger("aiaas.serving")

CONTENTS = {"BOOL": "bool_contents", "INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents", "INT64": "int64_contents",
            "UINT8": "uint_contents", "UINT16": "uint_contents", "UINT32": "uint_contents", "UINT64": "uint64_contents",
            "FP32": "fp32_contents", "FP64": "fp64_contents", "BYTES": "bytes_contents"}
"""Where each datatype's elements are in ``InferTensorContents`` when they are not in ``raw_input_contents``."""


def _code(status: int) -> Any:
    import grpc

    return {400: grpc.StatusCode.INVALID_ARGUMENT, 401: grpc.StatusCode.UNAUTHENTICATED, 403: grpc.StatusCode.PERMISSION_DENIED,
            404: grpc.StatusCode.NOT_FOUND, 413: grpc.StatusCode.RESOURCE_EXHAUSTED, 415: grpc.StatusCode.INVALID_ARGUMENT,
            422: grpc.StatusCode.INVALID_ARGUMENT, 429: grpc.StatusCode.RESOURCE_EXHAUSTED, 503: grpc.StatusCode.UNAVAILABLE,
            504: grpc.StatusCode.DEADLINE_EXCEEDED}.get(status, grpc.StatusCode.INTERNAL)


def status_of(exc: BaseException) -> tuple[int, str]:
    """The HTTP status the same failure gets on ``/v2`` over HTTP, and its message."""
    if isinstance(exc, HTTPException):
        return exc.status_code, error_text(exc.detail)
    if isinstance(exc, RequestValidationError):
        return 422, error_text(exc.errors())
    if isinstance(exc, InvalidInput):
        return exc.status, str(exc)
    if isinstance(exc, NoModel | Overloaded):
        return 503, str(exc)
    if isinstance(exc, NotFound):
        return 404, str(exc)
    if isinstance(exc, UserError):
        return 400, str(exc)
    if isinstance(exc, TimeoutError):
        return 504, "the model did not answer before the deadline"
    return 500, "internal error; the server log has the details"


def request_of(message: Any) -> InferRequest:
    """A ``ModelInferRequest`` as the HTTP route's request: the same checks apply to both."""
    raw = list(message.raw_input_contents)
    if raw and len(raw) != len(message.inputs):
        raise HTTPException(400, f"raw_input_contents holds {len(raw)} tensors for {len(message.inputs)} inputs")
    inputs = []
    for i, tensor in enumerate(message.inputs):
        shape = list(tensor.shape)
        if raw:
            data = None
        else:
            field = CONTENTS.get(tensor.datatype)
            data = list(getattr(tensor.contents, field)) if field else []
            if tensor.datatype == "BYTES":
                data = decode_binary("BYTES", [len(data)], b"".join(len(d).to_bytes(4, "little") + d for d in data), ["inputs", i, "contents"])
            elif any(isinstance(v, float) and not math.isfinite(v) for v in data):
                raise RequestValidationError([{"loc": ["body", "inputs", i, "contents"], "msg": "NaN and infinite values are refused",
                                               "type": "finite_number"}])
        inputs.append({"name": tensor.name, "datatype": tensor.datatype, "shape": shape, "data": data})
    body = parse_request({"inputs": inputs, "outputs": [{"name": o.name} for o in message.outputs] or None,
                          "parameters": {"binary_data_output": True}, **({"id": message.id} if message.id else {})})
    for i, tensor in enumerate(body.inputs):
        if raw:
            tensor.data = decode_binary(tensor.datatype, tensor.shape, raw[i], ["inputs", i, "raw_input_contents"])
    return body


class Servicer:
    """``GRPCInferenceService``: the calls a V2 client makes; the rest (shared memory, tracing) answer UNIMPLEMENTED."""

    def __init__(self, app: Any) -> None:  # noqa: ANN401
        from tritonclient.grpc import service_pb2 as pb

        self.pb, self.app, self.models = pb, app, app.state.v2

    def __getattr__(self, method: str) -> Any:  # noqa: ANN401
        """The service's other calls (streaming, shared memory, tracing, statistics): UNIMPLEMENTED, saying so."""
        if method.startswith("_"):
            raise AttributeError(method)

        async def unimplemented(request: Any, context: Any) -> Any:  # noqa: ANN401
            import grpc

            await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"aiaas does not implement {method}")

        return unimplemented

    async def _call(self, context: Any, path: str, task: str, work: Any, version: list[int] | None = None) -> Any:  # noqa: ANN401
        """Keys, then ``work()``; a failure ends the call with its status code and one line. ``version``: where
        ``work`` leaves the version that answered, for the metrics."""
        started = time.monotonic()
        metadata = {k.lower(): v for k, v in context.invocation_metadata() or ()}
        caller, refusal = self.app.state.access.check(path, metadata.get("authorization"))
        status = 200
        try:
            if refusal is not None:
                self.app.state.metrics.refused.labels(str(refusal.status_code)).inc()
                status, message = refusal.status_code, error_text(json.loads(refusal.body).get("detail"))
            else:
                try:
                    return await work()
                except Exception as exc:
                    status, message = status_of(exc)
                    if status == 500:
                        log.exception("unhandled error on gRPC %s", path)
                    elif isinstance(exc, Overloaded):
                        self.app.state.metrics.shed.labels(task, exc.reason).inc()
            await context.abort(_code(status), message)
        finally:
            if task:
                seconds = time.monotonic() - started
                self.app.state.metrics.requests.labels(task, "grpc/infer", str(status), str(version[0]) if version else "").inc()
                self.app.state.metrics.latency.labels(task, "grpc/infer").observe(seconds)
                self.app.state.answered(task, status, seconds)

    async def ServerLive(self, request: Any, context: Any) -> Any:  # noqa: N802, ANN401
        return self.pb.ServerLiveResponse(live=True)

    async def ServerReady(self, request: Any, context: Any) -> Any:  # noqa: N802, ANN401
        return self.pb.ServerReadyResponse(ready=not self.models.served.warming.is_set())

    async def ServerMetadata(self, request: Any, context: Any) -> Any:  # noqa: N802, ANN401
        import aiaas

        async def work() -> Any:
            return self.pb.ServerMetadataResponse(name="aiaas", version=aiaas.__version__, extensions=EXTENSIONS)

        return await self._call(context, "/v2", "", work)

    async def ModelReady(self, request: Any, context: Any) -> Any:  # noqa: N802, ANN401
        async def work() -> Any:
            return self.pb.ModelReadyResponse(ready=await self.models.ready(self.models.name(request.name), request.version))

        return await self._call(context, f"/v2/models/{request.name}/ready", "", work)

    async def ModelMetadata(self, request: Any, context: Any) -> Any:  # noqa: N802, ANN401
        async def work() -> Any:
            meta = await self.models.metadata(self.models.name(request.name), request.version)
            tensor = self.pb.ModelMetadataResponse.TensorMetadata
            return self.pb.ModelMetadataResponse(
                name=meta["name"], versions=meta["versions"], platform=meta["platform"],
                inputs=[tensor(name=t["name"], datatype=t["datatype"], shape=t["shape"]) for t in meta["inputs"]],
                outputs=[tensor(name=t["name"], datatype=t["datatype"], shape=t["shape"]) for t in meta["outputs"]])

        return await self._call(context, f"/v2/models/{request.name}", "", work)

    async def ModelConfig(self, request: Any, context: Any) -> Any:  # noqa: N802, ANN401
        from tritonclient.grpc import model_config_pb2 as mc

        async def work() -> Any:
            config = await self.models.config(self.models.name(request.name), request.version)
            return self.pb.ModelConfigResponse(config=mc.ModelConfig(
                name=config["name"], platform=config["platform"], backend=config["backend"], max_batch_size=config["max_batch_size"],
                input=[mc.ModelInput(name=t["name"], data_type=mc.DataType.Value(t["data_type"]), dims=t["dims"]) for t in config["input"]],
                output=[mc.ModelOutput(name=t["name"], data_type=mc.DataType.Value(t["data_type"]), dims=t["dims"]) for t in config["output"]]))

        return await self._call(context, f"/v2/models/{request.name}/config", "", work)

    async def RepositoryIndex(self, request: Any, context: Any) -> Any:  # noqa: N802, ANN401
        async def work() -> Any:
            entry = self.pb.RepositoryIndexResponse.ModelIndex
            return self.pb.RepositoryIndexResponse(models=[entry(**m) for m in await self.models.index(request.ready)])

        return await self._call(context, "/v2/repository/index", "", work)

    async def ModelInfer(self, request: Any, context: Any) -> Any:  # noqa: N802, ANN401
        name = request.model_name if request.model_name in self.models.host.components.tasks else ""
        version: list[int] = []
        arrived = time.monotonic()

        async def work() -> Any:
            model = self.models.name(request.model_name)
            remaining = context.time_remaining()
            timeout = self.models.limits.timeout if remaining is None else min(remaining, self.models.limits.timeout)
            pipeline, body, results = await self.models.infer(model, request.model_version, request_of(request), time.monotonic() + timeout,
                                                              lambda p: version.append(p.version), arrived)
            tensors = output_tensors(results, body)
            out = self.pb.ModelInferResponse(model_name=model, model_version=str(pipeline.version), id=request.id)
            for t in tensors:
                out.outputs.add(name=t["name"], datatype=t["datatype"], shape=t["shape"])
            out.raw_output_contents.extend(t["raw"] for t in tensors)
            return out

        return await self._call(context, f"/v2/models/{request.model_name}/infer", name, work, version)


async def start(app: Any, host: str, port: int, max_bytes: int) -> Any:  # noqa: ANN401
    """A started ``grpc.aio`` server on ``host:port`` (several workers share the port: SO_REUSEPORT)."""
    import grpc
    from tritonclient.grpc import service_pb2_grpc

    server = grpc.aio.server(options=[("grpc.max_receive_message_length", max_bytes), ("grpc.so_reuseport", 1)])
    service_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(Servicer(app), server)
    if server.add_insecure_port(f"{host}:{port}") == 0:
        raise OSError(f"gRPC cannot listen on {host}:{port}")
    await server.start()
    return server
