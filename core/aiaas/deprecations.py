"""Everything deprecated in the plugin API, in one place, each with the hook API version
that deprecated it and the one that will remove it. A deprecated use keeps working and
warns with ``AiaasDeprecationWarning`` (a ``FutureWarning``: shown by default, because the
people who must act are plugin authors running their plugin, not aiaas's developers).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass


class AiaasDeprecationWarning(FutureWarning):
    """A plugin uses something the hook API will remove."""


@dataclass(frozen=True)
class Deprecation:
    what: str
    instead: str
    since: str
    removed_in: str

    def message(self) -> str:
        return f"{self.what} is deprecated since hook API {self.since} and goes in {self.removed_in}: {self.instead}"


UNDECLARED_API = Deprecation(
    "a plugin that declares no AIAAS_API range", "declare the hook API versions it supports, e.g. AIAAS_API = '>=1.1,<2'",
    since="1.1", removed_in="2.0")
"""Until 2.0 a plugin without ``AIAAS_API`` is taken to support ``ASSUMED_API``."""
ASSUMED_API = ">=1.0,<2"

MOVED: dict[tuple[str, str], tuple[str, Deprecation]] = {
    ("aiaas.answers", "calls"): ("aiaas:classification_calls", Deprecation(
        "aiaas.answers.calls", "use aiaas.classification_calls (aiaas.answers is not part of the plugin API)",
        since="1.1", removed_in="2.0")),
}
"""Names that moved into the plugin API: (module, old name) -> (where it is now, why)."""


def warn(deprecation: Deprecation, stacklevel: int = 3, prefix: str = "") -> None:
    warnings.warn(prefix + deprecation.message(), AiaasDeprecationWarning, stacklevel=stacklevel)


def moved(module: str, name: str) -> object:
    """A module's ``__getattr__`` for names that moved: the object, with a warning."""
    if (module, name) not in MOVED:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    target, deprecation = MOVED[(module, name)]
    warn(deprecation)
    from aiaas.records import resolve

    return resolve(target)
