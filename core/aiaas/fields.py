"""Field types for a task's input model that take what their JSON Schema says and nothing else.

pydantic's lax mode reads ``true`` as 1 and ``"249"`` as 249.0, while the schema a client reads
says "number"; its strict mode refuses ``1.0`` where JSON Schema says an integer may be written so.
These sit where JSON Schema does: ``Number`` is any JSON number (not a bool or text), ``Whole`` any
JSON number without a fractional part (``3`` or ``3.0``; not ``true``, ``"3"`` or ``3.5``).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, StrictFloat


def _whole(value: Any) -> Any:
    if isinstance(value, (bool, str, bytes)):
        raise ValueError("a whole number is a JSON number, not true/false or text")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Whole = Annotated[int, BeforeValidator(_whole)]
Number = StrictFloat
