"""A small closed-loop gRPC load generator for the Open Inference Protocol (wrk speaks only HTTP/1.1):
``--connections`` concurrent callers, each sending the next ModelInfer as soon as its answer comes,
for ``--seconds``. Prints requests/s, p50 and p99 in milliseconds as one JSON line.

    python grpc_load.py --target 127.0.0.1:8001 --model finance/fraud --instance '{"amount": 12.5, ...}' --connections 32

It is Python (grpc.aio): run pinned to a core of its own, and read its figures as what this
client reaches, a floor on what the server could answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import numpy as np


def request(model: str, instance: dict, datatypes: dict[str, str]) -> object:
    from tritonclient.grpc import service_pb2 as pb

    message = pb.ModelInferRequest(model_name=model)
    for name, datatype in datatypes.items():
        if name not in instance:
            continue
        value = instance[name]
        message.inputs.add(name=name, datatype=datatype, shape=[1])
        if datatype == "BYTES":
            raw = str(value).encode()
            message.raw_input_contents.append(len(raw).to_bytes(4, "little") + raw)
        else:
            message.raw_input_contents.append(np.array([value], dtype={"FP64": "<f8", "INT64": "<i8", "BOOL": "u1"}[datatype]).tobytes())
    return message


async def main() -> None:
    import grpc
    from tritonclient.grpc import service_pb2 as pb
    from tritonclient.grpc import service_pb2_grpc

    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--instance", required=True)
    parser.add_argument("--key")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    channels = [grpc.aio.insecure_channel(args.target) for _ in range(min(args.connections, 8))]
    stubs = [service_pb2_grpc.GRPCInferenceServiceStub(c) for c in channels]
    metadata = (("authorization", f"Bearer {args.key}"),) if args.key else None
    meta = await stubs[0].ModelMetadata(pb.ModelMetadataRequest(name=args.model), metadata=metadata)
    message = request(args.model, json.loads(args.instance), {t.name: t.datatype for t in meta.inputs})
    latencies: list[float] = []
    end = time.monotonic() + args.seconds

    async def caller(i: int) -> None:
        stub = stubs[i % len(stubs)]
        while time.monotonic() < end:
            started = time.perf_counter()
            await stub.ModelInfer(message, metadata=metadata)
            latencies.append(time.perf_counter() - started)

    for warm in range(20):
        await stubs[warm % len(stubs)].ModelInfer(message, metadata=metadata)
    started = time.monotonic()
    await asyncio.gather(*(caller(i) for i in range(args.connections)))
    elapsed = time.monotonic() - started
    p50, p99 = np.percentile(latencies, [50, 99]) * 1000
    print(json.dumps({"rps": len(latencies) / elapsed, "p50": p50, "p99": p99}))


if __name__ == "__main__":
    asyncio.run(main())
