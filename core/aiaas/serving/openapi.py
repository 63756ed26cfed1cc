"""The OpenAPI page as a contract: it says what the server does, not only what the routes declare.

What every route shares is written into the page here, in one place, from the same rules the
middleware applies, so a client generated from the page (and a fuzzer checking it) meets no
surprise:

- the statuses the request path can send before or around a route: 401, 403 and 429 from keys
  (``access.py``) on every route that needs one; 413, 415 and 422 on every route with a body;
  404 where a path names something (a task, a learner); 503 on every route of a task (no model,
  a version still loading, the task at capacity);
- the limits ``limits.py`` enforces on every JSON body: no control characters (but tab and line
  breaks) in any text, key names included (nor lone surrogates, which JSON Schema cannot say),
  whole numbers within 64 bits, numbers within a float's range.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from aiaas.serving.access import is_open, required_scope
from aiaas.serving.limits import MAX_INT

TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
"""What ``limits.check_values`` takes in a string: no control characters but tab and line breaks. (It refuses lone
surrogates too; schemathesis drops a pattern with a surrogate range, so the page does not say so.)"""

SHARED = {
    401: "no valid API key (once keys are in force): send 'Authorization: Bearer <key>'",
    403: "the key's scope does not cover this route",
    429: "the key is over its rate (see Retry-After)",
    404: "the path names something that does not exist (detail says what)",
    413: "the body (or an image's pixel count) is over the limit",
    415: "the body is not of a type this route takes (send application/json)",
    422: "the request does not fit the schema or a limit (detail names the field and the reason)",
    503: "the task cannot answer now: no promoted model, its version still loading, or at capacity (see Retry-After)",
}
METHODS = ("get", "post", "put", "patch", "delete")


def install(app: FastAPI, models: list[type[BaseModel]]) -> None:
    """Serve the page with the per-task request models in its components and the shared rules written in."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in models:
            body = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(body.pop("$defs", {}))
            components[model.__name__] = body
        document_statuses(schema)
        state_text_limits(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def document_statuses(schema: dict[str, Any]) -> None:
    """Add to each operation the statuses the shared request path can send it (a route's own description wins)."""
    for path, item in schema.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            statuses = set()
            if not is_open(path):
                statuses |= {401, 403, 429}
            if "requestBody" in operation:
                statuses |= {413, 415, 422}
            if operation.get("parameters"):
                statuses.add(422)
            if any(p.get("in") == "path" for p in operation.get("parameters", [])):
                statuses.add(404)
            scope = required_scope(path)
            if scope is not None and scope[0] is not None:
                statuses.add(503)
            responses = operation.setdefault("responses", {})
            for status in sorted(statuses):
                responses.setdefault(str(status), {"description": SHARED[status]})


def state_text_limits(schema: dict[str, Any]) -> None:
    """Every string, key name and number a request body can carry is bounded as ``parse_json`` bounds it."""
    components = schema.get("components", {}).get("schemas", {})
    seen: set[str] = set()
    for node in _request_schemas(schema):
        _limit(node, components, seen)


def _request_schemas(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for item in schema.get("paths", {}).values():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            for content in operation.get("requestBody", {}).get("content", {}).values():
                if "schema" in content:
                    yield content["schema"]


def _limit(node: Any, components: dict[str, Any], seen: set[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _limit(item, components, seen)
        return
    if not isinstance(node, dict):
        return
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        name = ref.rsplit("/", 1)[1]
        if name not in seen and name in components:
            seen.add(name)
            _limit(components[name], components, seen)
        return
    if node.get("type") == "string" and "format" not in node and "contentEncoding" not in node and "enum" not in node:
        if "pattern" not in node:
            node["pattern"] = TEXT
        elif node["pattern"] != TEXT and not any(p.get("pattern") == TEXT for p in node.get("allOf", [])):
            node.setdefault("allOf", []).append({"pattern": TEXT})
    for kept, keyword in (("ge", "minimum"), ("le", "maximum"), ("gt", "exclusiveMinimum"), ("lt", "exclusiveMaximum")):
        if kept in node and node.get("type") in ("integer", "number"):  # pydantic leaves a wrapped type's bounds under its own names
            node.setdefault(keyword, node.pop(kept))
    if node.get("type") in ("integer", "number"):
        edge = MAX_INT if node["type"] == "integer" else sys.float_info.max
        if "maximum" not in node and "exclusiveMaximum" not in node:
            node["maximum"] = edge
        if "minimum" not in node and "exclusiveMinimum" not in node:
            node["minimum"] = -edge
    if node.get("type") == "object" and node.get("additionalProperties") is not False:
        node.setdefault("propertyNames", {"pattern": TEXT})
    for key in ("properties", "$defs"):
        for child in node.get(key, {}).values():
            _limit(child, components, seen)
    for key in ("items", "additionalProperties", "anyOf", "allOf", "oneOf", "prefixItems", "not"):
        if key in node:
            _limit(node[key], components, seen)
