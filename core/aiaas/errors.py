"""Errors whose message is meant for the person at the CLI or the API client."""

from __future__ import annotations


class UserError(Exception):
    """Something the user asked for or gave is wrong; the message says what, in one line."""


class InvalidInput(UserError):
    """Input data (a file, a request's instances) does not fit the task; answered as
    ``status`` (422 unless a subclass says otherwise)."""

    status = 422

    def __init__(self, message: str, loc: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.loc = loc


class Refused(InvalidInput):
    """An input the task declines to answer because an input check flagged it (a CT
    slice sent to a chest radiograph model); answered as 422 naming the reason."""


class UnsupportedMedia(InvalidInput):
    """A file of a type the task does not read (a GIF for an image task); answered as 415."""

    status = 415


class TooLarge(InvalidInput):
    """An instance over a configured limit (an image's pixel count); answered as 413."""

    status = 413


class NotFound(UserError):
    """Something named in the request does not exist (an unknown task in a path); answered as 404."""


class NoModel(UserError):
    """The task has no promoted model; answered as 503."""


class ModelUnavailable(NoModel):
    """A version is promoted but cannot be loaded (missing or damaged files); answered as 503."""
