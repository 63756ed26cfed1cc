"""Shedding below the web framework: ``aiaas serve`` answers a predict or explain
request of a task at capacity with a ready-made 503 from inside the HTTP parser's
callbacks, before any ASGI scope, task or middleware exists.

Why: a flood of clients that retry at once (load generators, impatient services)
makes refusals the server's main work. A refusal through the full ASGI stack costs
about as much as a cheap answer, so refusals crowd out the admitted requests' own
turns of the event loop and their latency grows with the flood. Here a refusal costs
the parse and one write. ``Shed`` (``batcher.py``) stays as the same rule for any
other server the app runs under.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_gate: dict[str, Any] = {}
RETRY_AFTER = 1
BODY = b'{"detail":"the task is at capacity; retry shortly"}'
RESPONSE = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: " + str(RETRY_AFTER).encode() + b"\r\n"
            b"content-length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)


def install(admit: Callable[[str], None], on_shed: Callable[[str], None]) -> None:
    """Called by the app: ``admit(task)`` raises when the task is at capacity."""
    _gate["admit"], _gate["on_shed"] = admit, on_shed


def at_capacity(method: bytes, url: bytes) -> str | None:
    """The task a request would overload, or None."""
    admit = _gate.get("admit")
    if admit is None or method != b"POST":
        return None
    parts = url.split(b"?", 1)[0].strip(b"/").split(b"/")
    if len(parts) != 4 or parts[0] != b"v1" or parts[3] not in (b"predict", b"explain"):
        return None
    task = f"{parts[1].decode('latin-1')}/{parts[2].decode('latin-1')}"
    try:
        admit(task)
    except Exception:
        return task
    return None


class _NoWaiter:
    """The refused request has no app waiting on its messages."""

    def set(self) -> None:
        pass

    def clear(self) -> None:
        pass


class _Refused:
    """Stands in for the request cycle while the refused request's body is read and dropped: it has
    everything uvicorn's protocol touches on a cycle, a closed connection included (``connection_lost``)."""

    response_complete = True
    disconnected = False
    keep_alive = True
    more_body = False
    body = b""
    message_event = _NoWaiter()


class SheddingProtocol(HttpToolsProtocol):
    def on_headers_complete(self) -> None:
        pipelined = self.cycle is not None and not self.cycle.response_complete
        task = None if pipelined or self.parser.should_upgrade() else at_capacity(self.parser.get_method(), self.url)
        if task is None:
            return super().on_headers_complete()
        self.cycle = _Refused()  # type: ignore[assignment]
        _gate["on_shed"](task)
        if not self.parser.should_keep_alive():
            self.transport.write(RESPONSE.replace(b"\r\n\r\n", b"\r\nconnection: close\r\n\r\n", 1))
            self.transport.close()
            return
        self.transport.write(RESPONSE)
        self.on_response_complete()
        # The refusal goes out at once, but this connection's next request is read only after
        # Retry-After: a client that retries at once must not turn refusals into the server's main work.
        self.flow.pause_reading()
        self.loop.call_later(RETRY_AFTER, self._resume)

    def _resume(self) -> None:
        if not self.transport.is_closing():
            self.flow.resume_reading()
