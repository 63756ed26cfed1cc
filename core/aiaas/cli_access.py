"""``aiaas keys`` and ``aiaas audit``: API keys and the record of who changed what."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Optional

import typer
from rich.table import Table

keys_app = typer.Typer(no_args_is_help=True, help="API keys: make, list and revoke them. A key is shown once.")


def _stores():  # noqa: ANN202
    from aiaas.keys import KeyStore
    from aiaas.registry import Registry

    registry = Registry.from_settings()
    return KeyStore(registry.engine), registry.audit


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="Who or what uses the key (shown in logs and the audit record).")],
    scope: Annotated[str, typer.Option("--scope", help="An industry (finance), an industry/task (finance/fraud) or admin.")],
    expires_in_days: Annotated[Optional[float], typer.Option("--expires-in-days", help="The key stops working after this many days.")] = None,
    rate: Annotated[Optional[float], typer.Option("--rate", help="Most requests per second (default: no limit).")] = None,
) -> None:
    """Make a key and print it once: it is stored only as a hash."""
    from aiaas.audit import cli_actor
    from aiaas.cli import console

    keys, audit = _stores()
    row, secret = keys.create(name, scope, expires_in_days, rate)
    audit.record(cli_actor(), "key-create", name, scope=scope, expires_at=row.expires_at.isoformat() if row.expires_at else None, rate=rate)
    console.print(f"key {name!r} (scope {scope}) made; it is shown only now:")
    console.print(secret, soft_wrap=True, highlight=False)


@keys_app.command("list")
def list_keys() -> None:
    """Keys by name, scope and state (never the keys themselves)."""
    from aiaas.cli import console

    keys, _ = _stores()
    table = Table("name", "scope", "created", "expires", "revoked", "rate/s")
    for row in keys.list():
        table.add_row(row.name, row.scope, f"{row.created_at:%Y-%m-%d %H:%M}", f"{row.expires_at:%Y-%m-%d}" if row.expires_at else "",
                      f"{row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "", f"{row.rate:g}" if row.rate else "")
    console.print(table)


@keys_app.command("revoke")
def revoke(name: Annotated[str, typer.Argument(help="The key's name.")]) -> None:
    """Revoke a key; a running server refuses it within AIAAS_ALIAS_TTL_SECONDS."""
    from aiaas.audit import cli_actor
    from aiaas.cli import console

    keys, audit = _stores()
    keys.revoke(name)
    audit.record(cli_actor(), "key-revoke", name)
    console.print(f"key {name!r} revoked")


def audit(limit: Annotated[int, typer.Option("--limit", min=1)] = 50) -> None:
    """The most recent changes: promotions, rollbacks, keys made and revoked (who, what, when)."""
    from aiaas.cli import console

    _, record = _stores()
    table = Table("when", "who", "action", "target", "detail")
    for event in record.events(limit):
        table.add_row(f"{event.at:%Y-%m-%d %H:%M:%S}", event.actor, event.action, event.target,
                      ", ".join(f"{k}={v}" for k, v in event.detail.items() if v is not None))
    console.print(table)


def refuse_open_exposure(host: str, insecure_open: bool) -> None:
    """Serving beyond this machine with no key would answer anyone: refuse unless told so."""
    from aiaas.errors import UserError

    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback or insecure_open:
        return
    keys, _ = _stores()
    if not keys.configured():
        raise UserError(f"--host {host} would serve anyone with no API key: make one with "
                        "`aiaas keys create --name NAME --scope admin`, or pass --insecure-open to serve without keys")
