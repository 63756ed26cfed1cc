"""The plugin API reference page is the code's: every hook and record field documented, with
the signature, type and default the code has, and the repository's plugins that use each."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aiaas import reference
from aiaas.plugins import Host

PAGE = Path(__file__).resolve().parents[1] / "docs" / "plugin-reference.md"


def test_the_committed_reference_is_the_one_the_code_generates() -> None:
    assert PAGE.read_text(encoding="utf-8") == reference.render(Host()), (
        "docs/plugin-reference.md is out of date: run `aiaas plugin reference --out docs/plugin-reference.md`")


def test_every_hook_and_field_is_on_the_page_with_its_signature_and_users() -> None:
    page = PAGE.read_text(encoding="utf-8")
    assert "### `register_routes(router: APIRouter, host: Host, service: Service) -> None`" in page
    assert "| `metrics` | `tuple[str, ...]` | required |" in page
    section = page.split("### `register_input_checks")[1].split("###")[0]
    assert "Used by: education, healthcare" in section


def test_a_field_without_a_docstring_fails_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = reference.field_docs()
    del docs["Task"]["log_omit"]
    monkeypatch.setattr(reference, "field_docs", lambda: docs)
    with pytest.raises(reference.Undocumented, match=r"Task\.log_omit"):
        reference.render(Host())


def test_cli_prints_the_reference() -> None:
    result = subprocess.run([sys.executable, "-m", "aiaas", "plugin", "reference"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("# Plugin API reference"), result.stderr
