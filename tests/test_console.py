"""The console in a real browser: Debian's chromium driven by Playwright (never a browser download),
against the service on a real socket, with keys in force and every request off the server blocked."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aiaas.keys import KeyStore
from aiaas.registry import Registry
from aiaas.testing import host_with, isolated_home, ready_client, running_server
from aiaas.training import TrainRequest, train

from .test_third_party_plugin import insurance_plugin, write_claims

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make browser installs it)")
TASK = "insurance/claims"
DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Two versions of a small task (the first in production), three keys (admin, the task's industry,
    another industry), and the service on a loopback port."""
    home = tmp_path_factory.mktemp("console")
    with isolated_home(home):
        host = host_with("insurance", insurance_plugin())
        registry = Registry.from_settings()
        data = write_claims(home, 400, 0)
        for promote in (True, False):
            train(host, registry, TrainRequest(TASK, data, epochs=1, promote=promote, force=True), quiet=True)
        keys = KeyStore(registry.engine)
        secrets = {scope: keys.create(f"{scope}-key", scope)[1] for scope in ("admin", "insurance", "finance")}
        app = ready_client(host, registry).app
        with running_server(app) as base:
            yield {"base": base, "keys": secrets, "registry": registry}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield launched
        launched.close()


class Page:
    """A browser tab that fails the test on a console error, a failed request or a request off the server."""

    def __init__(self, browser: Any, base: str) -> None:
        self.base, self.problems = base, []
        self.context = browser.new_context()
        self.page = self.context.new_page()
        self.page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base) else
                        (self.problems.append(f"off the server: {route.request.url}"), route.abort()))
        self.page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}")
                     if m.type in ("error", "warning") and not (self.expect_error and "responded with a status of 4" in m.text) else None)
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url}"))
        self.page.on("response", lambda r: self.problems.append(f"{r.status}: {r.url}") if r.status >= 400 and not self.expect_error else None)
        self.expect_error = False

    def go(self, path: str) -> Any:
        self.page.goto(self.base + path)
        return self.page

    def sign_in(self, key: str) -> None:
        self.go("/console/")
        assert self.page.url.endswith("/console/sign-in")
        self.page.get_by_label("API key").fill(key)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(re.compile(r".*/console/$"))

    def accessible(self) -> None:
        """axe-core, run in the page, finds no serious or critical violation; every control is labelled and
        takes the keyboard's focus."""
        from axe_playwright_python.sync_playwright import Axe

        results = Axe().run(self.page)
        bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
        assert not bad, [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in bad]
        controls = self.page.locator("a[href], button, input:not([type=hidden]), select")
        reached = set()
        for _ in range(controls.count() + 2):
            self.page.keyboard.press("Tab")
            reached.add(self.page.evaluate("document.activeElement.outerHTML"))
        missing = [html for html in (controls.nth(i).evaluate("e => e.outerHTML") for i in range(controls.count())) if html not in reached]
        assert not missing, missing[:3]

    def close(self) -> None:
        self.context.close()
        assert not self.problems, self.problems


def test_an_admin_signs_in_promotes_and_rolls_back_from_the_pages(served: dict[str, Any], browser: Any) -> None:
    """Every page loads clean, offline and accessible; a promotion and a rollback asked for in the pages,
    each confirmed, change what the API serves and are in the audit log under the key's name."""
    registry = served["registry"]
    tab = Page(browser, served["base"])
    tab.sign_in(served["keys"]["admin"])
    page = tab.page
    assert page.get_by_role("link", name=TASK).is_visible()
    page.screenshot(path=str(DOCS / "console-overview.png"), full_page=True)
    tab.accessible()

    page.get_by_role("link", name=TASK).click()
    page.wait_for_url(re.compile(f".*/console/tasks/{TASK}$"))
    assert page.get_by_role("link", name="report of version 1").is_visible()
    page.screenshot(path=str(DOCS / "console-task.png"), full_page=True)
    tab.accessible()

    page.get_by_label("Change for version 2").select_option("promote")
    page.locator("form.change").filter(has=page.get_by_label("Change for version 2")).get_by_role("button").click()
    assert "Version 2 will serve all" in page.get_by_role("status").inner_text()
    tab.accessible()
    assert registry.alias(TASK) == 1  # nothing changes before the confirmation
    assert "loses to its classical floor" in page.get_by_role("alert").inner_text()  # one epoch: the floor's trees win
    page.get_by_role("button", name="Yes, promote").click()
    assert "loses to its classical floor" in page.get_by_role("main").inner_text() and registry.alias(TASK) == 1  # refused unticked
    assert any(p.startswith("409:") for p in tab.problems)
    tab.problems.clear()  # the refusal was the point
    page.go_back()
    page.get_by_label("Serve it although it loses to its floor").check()
    page.get_by_role("button", name="Yes, promote").click()
    page.wait_for_url(re.compile(f".*/console/tasks/{TASK}$"))
    assert registry.alias(TASK) == 2
    page.get_by_role("button", name="Roll back production").click()
    page.get_by_role("button", name="Yes, rollback").click()
    page.wait_for_url(re.compile(f".*/console/tasks/{TASK}$"))
    assert registry.alias(TASK) == 1
    mine = [e.to_json()["action"] for e in registry.audit.events(10) if e.to_json()["actor"] == "key:admin-key"]
    assert sorted(mine) == ["promote", "rollback"]

    page.get_by_role("link", name="report of version 1").click()
    assert page.locator("img").count() > 0  # the report and its pictures, served from the version's folder
    tab.close()


def test_a_key_of_one_industry_sees_only_it_and_changes_nothing(served: dict[str, Any], browser: Any) -> None:
    registry = served["registry"]
    other = Page(browser, served["base"])
    other.sign_in(served["keys"]["finance"])
    assert other.page.get_by_text("No task this key may see").is_visible()
    other.expect_error = True
    assert other.go(f"/console/tasks/{TASK}").locator("body").inner_text().find("may not see") >= 0
    other.close()

    mine = Page(browser, served["base"])
    mine.sign_in(served["keys"]["insurance"])
    page = mine.go(f"/console/tasks/{TASK}")
    assert page.get_by_role("link", name="report of version 1").is_visible()
    assert page.get_by_role("button").filter(has_text=re.compile("Review|Roll back")).count() == 0  # no change offered
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    mine.expect_error = True
    refused = page.request.post(f"{served['base']}/console/tasks/{TASK}/change",
                                form={"action": "promote", "version": "2", "csrf": csrf, "confirmed": "yes"})
    assert refused.status == 403 and "may not change" in refused.text()
    assert registry.alias(TASK) == 1
    mine.close()


def test_a_forged_form_without_the_token_is_refused(served: dict[str, Any], browser: Any) -> None:
    """The admin's own session, but a post with no CSRF token or another session's: refused, nothing changes."""
    registry = served["registry"]
    tab = Page(browser, served["base"])
    tab.sign_in(served["keys"]["admin"])
    tab.expect_error = True
    for token in ("", "forged-token"):
        refused = tab.page.request.post(f"{served['base']}/console/tasks/{TASK}/change",
                                        form={"action": "promote", "version": "2", "csrf": token, "confirmed": "yes"})
        assert refused.status == 403 and "CSRF" in refused.text()
    assert registry.alias(TASK) == 1
    cookies = tab.context.cookies()
    assert [(c["name"], c["httpOnly"], c["sameSite"]) for c in cookies] == [("aiaas_console", True, "Strict")]
    assert served["keys"]["admin"] not in str(cookies)  # the session holds the key's name, never the key
    tab.close()


def test_an_admin_makes_a_key_that_signs_in_and_revokes_it(served: dict[str, Any], browser: Any) -> None:
    """A key made in the page is shown once and works at once; revoked in the page, its open session is
    signed out; both changes are in the audit log, which the page filters."""
    admin = Page(browser, served["base"])
    admin.sign_in(served["keys"]["admin"])
    page = admin.go("/console/keys")
    admin.accessible()
    page.get_by_label("Name").fill("analyst")
    page.get_by_label("Scope").fill("insurance/claims")
    page.get_by_role("button", name="Make the key").click()
    secret = page.get_by_label("The key").input_value()
    assert secret.startswith("aiaas_") and "shown this once" in page.get_by_role("status").inner_text()

    analyst = Page(browser, served["base"])
    analyst.sign_in(secret)
    assert analyst.page.get_by_role("link", name=TASK).is_visible()

    page = admin.go("/console/keys")
    page.screenshot(path=str(DOCS / "console-keys.png"), full_page=True)
    page.get_by_role("button", name="Revoke analyst").click()
    page.get_by_role("button", name="Yes, revoke analyst").click()
    page.wait_for_url(re.compile(r".*/console/keys$"))
    analyst.go("/console/")
    assert analyst.page.url.endswith("/console/sign-in")  # the session of a revoked key is over

    page.get_by_label("Target").fill("analyst")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("section:has(#audit) tbody tr").all_inner_texts()
    assert [r.split("\t")[2] for r in rows] == ["key-revoke", "key-create"] and all("key:admin-key" in r for r in rows)
    analyst.close()
    admin.close()


def test_try_it_answers_from_a_form_made_of_the_schema_and_draws_the_answer(served: dict[str, Any], browser: Any) -> None:
    """A plugin's task with no console code of its own: the form comes from its input schema (filled from
    a validation record), the answer comes through its own route and is drawn; a bad value gets the
    API's own 422, naming the field, in the page."""
    tab = Page(browser, served["base"])
    tab.sign_in(served["keys"]["insurance"])
    page = tab.go(f"/console/tasks/{TASK}")
    page.get_by_role("link", name="Try it").click()
    page.wait_for_url(re.compile(f".*/console/tasks/{TASK}/try$"))
    assert page.get_by_label("region").input_value() in ("north", "south", "east")  # from the version's own validation record
    tab.accessible()
    page.get_by_role("button", name="Answer").click()
    answer = page.locator("section.answer")
    assert "Like the training data" in answer.inner_text() or "Unlike the training data" in answer.inner_text()
    assert answer.locator("h3").count() >= 2 and answer.locator("svg rect").count() > 0  # facts and drawn bars
    page.screenshot(path=str(DOCS / "console-try.png"), full_page=True)
    tab.accessible()
    tab.expect_error = True
    page.get_by_label("amount").fill("a lot")
    page.get_by_role("button", name="Answer").click()
    assert "amount: 'a lot' is not a number" in page.get_by_role("alert").inner_text()
    tab.expect_error = False

    page = tab.go(f"/console/tasks/{TASK}/monitor?window=1h")  # the answer above is in the prediction log
    assert re.search(r"\b[1-9]\d* answers;", page.locator("#traffic ~ p").first.inner_text())
    latency = page.locator("#latency ~ p").first.inner_text()  # Try it's requests went through the service's middleware
    assert re.search(r"\b[1-9]\d* model requests .*; 0 server errors; the slowest bar's p99 ≤ \d+ ms", latency), latency
    assert page.locator("section:has(#versions) tbody tr").first.inner_text().startswith("1\tproduction")
    page.screenshot(path=str(DOCS / "console-monitor.png"), full_page=True)
    tab.accessible()

    cells = tab.go("/console/").locator("tbody tr").first.locator("td").all_inner_texts()  # the last minutes, with the answer above
    rate, errors, p99, flagged = cells[4:8]
    assert float(rate) > 0 and errors == "0.0%" and p99.startswith("≤ ") and re.fullmatch(r"\d+\.\d% of [1-9]\d*", flagged), cells
    tab.close()


@pytest.fixture(scope="module")
def verticals(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The four verticals, each with a quick version promoted from its own sample data, served open (no key
    exists yet, as on a laptop)."""
    from aiaas.plugins import get_host
    from aiaas.records import resolve

    home = tmp_path_factory.mktemp("verticals")
    runs = {"finance/fraud": (600, {"architecture": "gbdt", "params": {"rounds": 30}}),
            "retail/review-sentiment": (400, {}),
            "healthcare/chest-xray": (40, {"architecture": "small-cnn", "epochs": 1, "options": {"image_size": "28"}}),
            "education/knowledge-tracing": (2500, {"runtime": "torch", "epochs": 1})}
    with isolated_home(home):
        host, registry = get_host(), Registry.from_settings()
        for name, (rows, how) in runs.items():
            written = resolve(host.task(name).sample)(home / name.replace("/", "-"), rows, 0)
            data = next(written.glob("answers.csv"), written) if written.is_dir() and name.startswith("education") else written
            train(host, registry, TrainRequest(name, data, promote=True, force=True, **how), quiet=True)
        with running_server(ready_client(host, registry).app) as base:
            yield {"base": base, "home": home}


def test_try_it_draws_each_verticals_answer(verticals: dict[str, Any], browser: Any) -> None:
    """Open access: no sign-in. Reason codes as signed bars (fraud), a review's words highlighted in place,
    the Grad-CAM heatmap over an X-ray, a learner's mastery per skill and the skills to practise."""
    tab = Page(browser, verticals["base"])
    page = tab.go("/console/tasks/finance/fraud/try")
    page.locator("#f-amount").fill("4800")  # far above this customer's usual: reasons to show
    page.locator("#f-amount_to_avg_30d").fill("160")
    page.get_by_role("button", name="Answer").click()
    titles = page.locator("section.answer h3").all_inner_texts()
    assert "Reasons (contribution)" in titles and page.locator("section.answer svg rect.up").count() >= 1, titles  # reason codes as bars

    page = tab.go("/console/tasks/retail/review-sentiment/try")
    page.get_by_label("text").fill("Terrible fit, the fabric tore after one wash. Returned it.")
    page.get_by_role("button", name="Answer").click()
    assert page.locator("mark").count() >= 3  # the words that drove the answer, highlighted in the review

    page = tab.go("/console/tasks/healthcare/chest-xray/try")
    image = next((verticals["home"] / "healthcare-chest-xray").rglob("*.png"))
    page.get_by_label("Image file").set_input_files(str(image))
    page.get_by_role("button", name="Answer").click()
    assert page.locator("section.answer img[src^='data:image/png']").count() == 1  # the heatmap
    tab.accessible()
    from aiaas.plugins import get_host
    from aiaas.records import resolve

    write_sample = resolve(get_host().task("healthcare/chest-xray").sample)
    scans = write_sample(verticals["home"] / "dicom", 4, 1, format="dicom", size=28)  # a radiograph as a hospital's systems send it
    page = tab.go("/console/tasks/healthcare/chest-xray/try")
    page.get_by_label("Image file").set_input_files(str(next(scans.rglob("*.dcm"))))
    page.get_by_role("button", name="Answer").click()
    assert page.locator("section.answer img[src^='data:image/png']").count() == 1  # a DICOM upload answered and drawn alike

    page = tab.go("/console/tasks/education/knowledge-tracing/try")
    page.get_by_label("learner").fill("learner-1")
    page.get_by_label("history").fill('[{"skill": "counting", "correct": 1}, {"skill": "addition", "correct": 0}]')
    page.get_by_role("button", name="Answer").click()
    titles = page.locator("section.answer h3").all_inner_texts()
    assert "Mastery" in titles and any(t.startswith("Recommended") for t in titles), titles
    tab.close()
