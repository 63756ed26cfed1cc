"""The docs site: every page builds with MkDocs in strict mode (a broken link or a page missing from the
nav fails), its home page is the README, and the built site is what the console serves at /console/docs/."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_docs_site_builds_strict_and_its_home_is_the_readme(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert (ROOT / "docs" / "index.md").read_text(encoding="utf-8") == readme.replace("](docs/", "]("), (
        "docs/index.md is out of date: run sed 's|](docs/|](|g' README.md > docs/index.md")
    site = tmp_path / "site"
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)], cwd=ROOT,
                           capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("index.html"))
    assert {"index.html", "tour/index.html", "data/index.html", "plugin-reference/index.html"} <= set(pages), pages
    html = (site / "index.html").read_text(encoding="utf-8")
    assert "fonts.googleapis" not in html and 'src="https://' not in html  # offline: nothing fetched from elsewhere


def test_the_console_serves_the_built_site(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from aiaas.console.pages import DOCS_SITE
    from aiaas.testing import isolated_home, ready_client
    from aiaas.plugins import get_host
    from aiaas.registry import Registry

    assert DOCS_SITE.is_dir(), "the docs site is not built: `make test` builds it first (`make docs`)"
    with isolated_home(tmp_path):
        client: TestClient = ready_client(get_host(), Registry.from_settings())
        page, tour = client.get("/console/docs/"), client.get("/console/docs/tour/")
    assert page.status_code == 200 and "Where to go next" in page.text
    assert tour.status_code == 200 and "knowledge tracing" in tour.text.lower()
