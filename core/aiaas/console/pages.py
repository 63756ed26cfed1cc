"""The console's pages at ``/console``: server-rendered HTML (Jinja2) with its stylesheet in the
package, so it works offline and with no build step. Handlers are plain functions: FastAPI runs
them in its thread pool, so a registry read never blocks the event loop.

Reads need a key whose scope covers the task (any task for admin); changes (promote, rollback,
canary, shadow) need an admin key, a CSRF token and a confirmation, and go to the audit record
under the key's name as the admin API's do.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from aiaas.console import drawing, tryit
from aiaas.console import session as sessions
from aiaas.console.session import Session, Viewer
from aiaas.errors import NoModel, UserError
from aiaas.keys import KeyStore
from aiaas.plugins import Host
from aiaas.registry import CANARY, MAX_VERSION, SHADOW, Registry, losing

PREFIX = "/console"
WINDOWS = ("15m", "1h", "24h", "7d", "30d")
NEWEST = 5_000
"""The most logged answers a page reads of its window; beyond them it counts (the Monitor's notes say so)."""
DOCS_SITE = Path(__file__).parent / "docs_site"
"""Where ``make docs`` writes the docs site (``mkdocs.yml``)."""
REPORT_FILE = re.compile(r"[a-z0-9_-]{1,80}\.(html|png)")
PAGE_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; "
               "frame-ancestors 'none'; base-uri 'none'")
REPORT_POLICY = "default-src 'none'; img-src data: 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'; base-uri 'none'"
"""A version's report is a file training wrote: its own inline styles and pictures, never a script."""

_templates = Environment(loader=PackageLoader("aiaas.console", "templates"), autoescape=select_autoescape(["html"]),
                         trim_blocks=True, lstrip_blocks=True)


class SignIn(Exception):
    """The page needs a signed-in key (raised to send the browser to the sign-in page)."""


class Refusal(Exception):
    """A request the console refuses: shown as a page with the status and the reason, not as JSON."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def console_router(host: Host, registry: Registry, keys: KeyStore, enforced: Any) -> APIRouter:
    """``enforced()``: whether API keys are in force (``aiaas.serving.access.Access.enforced``)."""
    router = APIRouter(prefix=PREFIX, include_in_schema=False)

    def viewer(request: Request) -> Viewer:
        found = sessions.read(request.cookies.get(sessions.COOKIE))
        session = found or sessions.new()
        request.state.console_session = None if found else session  # a new session's cookie goes out with the page
        if not enforced():
            return Viewer(None, Session(None, session.csrf))
        caller = keys.named(session.key) if session.key else None
        if caller is None:
            raise SignIn
        return Viewer(caller, session)

    def page(request: Request, template: str, viewer: Viewer | None, status: int = 200, **context: Any) -> HTMLResponse:
        html = _templates.get_template(template).render(viewer=viewer, prefix=PREFIX, request_path=request.url.path, **context)
        response = HTMLResponse(html, status_code=status, headers={"Content-Security-Policy": PAGE_POLICY, "Cache-Control": "no-store",
                                                                   "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"})
        fresh = getattr(request.state, "console_session", None)
        if fresh is not None:
            set_cookie(request, response, fresh)
        return response

    def task_of(viewer: Viewer, industry: str, task: str) -> str:
        try:
            name = host.task(f"{industry}/{task}").name
        except UserError:
            raise Refusal(404, f"no task {industry}/{task}") from None
        if not viewer.sees(name):
            raise Refusal(403, f"key {viewer.name!r} may not see {name}")
        return name

    def changing(viewer: Viewer, csrf: str | None) -> None:
        if not sessions.csrf_ok(viewer.session, csrf):
            raise Refusal(403, "the form's CSRF token is missing or wrong: reload the page and try again")
        if not viewer.admin:
            raise Refusal(403, f"key {viewer.name!r} (scope {viewer.caller.scope if viewer.caller else ''}) may not change what serves")

    @router.get("", response_class=HTMLResponse)
    @router.get("/", response_class=HTMLResponse)
    def overview(request: Request) -> HTMLResponse:
        from aiaas.console.charts import series

        who = viewer(request)
        served, recent, log = request.app.state.served, request.app.state.console_recent, request.app.state.predictions
        recent.start()
        drift = _drift(request.app.state.metrics)
        rows = []
        for name in sorted(host.components.tasks):
            if not who.sees(name):
                continue
            state, body = served.status(name)
            rollout = registry.rollout(name)
            start, now = datetime.now(UTC) - timedelta(minutes=5), datetime.now(UTC)
            read = log.since(name, start, NEWEST)[0] if log is not None else []
            busy = log is not None and len(read) >= NEWEST
            last = series(read, start, now, buckets=1, counts=log.counts(name, [start, now]) if busy else None)
            rows.append({"task": name, "production": registry.alias(name), "versions": len(registry.versions(name)),
                         "rollout": rollout.describe() if rollout else None, "state": state, "status": body.get("status"),
                         "pending": body.get("pending"), "integrity": body.get("integrity"), "figures": recent.figures(name),
                         "flagged": last.share if last.total else None, "answered": last.total, "drift": drift.get(name)})
        return page(request, "overview.html", who, tasks=rows)

    @router.get("/tasks/{industry}/{task}", response_class=HTMLResponse)
    def task_page(request: Request, industry: str, task: str) -> HTMLResponse:
        who = viewer(request)
        name = task_of(who, industry, task)
        rollout = registry.rollout(name)
        versions = [_version_row(registry, row) for row in reversed(registry.listing(name))]
        return page(request, "task.html", who, task=name, versions=versions, rollout=rollout.describe() if rollout else None,
                    production=registry.alias(name))

    @router.get("/tasks/{industry}/{task}/versions/{version}/report/{file}")
    def report(request: Request, industry: str, task: str, version: int, file: str) -> Response:
        """A version's report (``report.html``) and the pictures it shows, from its own folder only."""
        name = task_of(viewer(request), industry, task)
        if not 1 <= version <= MAX_VERSION or not REPORT_FILE.fullmatch(file):
            raise Refusal(404, f"no such file of version {version} of {name}'s report")
        try:
            folder = registry.folder(registry.get(name, version))
        except UserError as exc:
            raise Refusal(404, str(exc)) from None
        path = folder / "report" / file
        if not path.is_file():
            raise Refusal(404, f"version {version} of {name}'s report has no {file}")
        return FileResponse(path, media_type="text/html" if file.endswith(".html") else "image/png",
                            headers={"Content-Security-Policy": REPORT_POLICY, "X-Content-Type-Options": "nosniff"})

    @router.post("/tasks/{industry}/{task}/change", response_class=HTMLResponse)
    def change(request: Request, industry: str, task: str, action: str = Form(), csrf: str = Form(""), version: int = Form(0),
               percent: int = Form(10), confirmed: str = Form(""), force: str = Form("")) -> Response:
        """``action``: promote, canary, shadow or rollback. The first post shows what would change; the
        confirmation's post (``confirmed``) makes the change. Promoting a version that loses to its floor
        beyond noise needs ``force`` ticked on the confirmation, as the CLI's --force."""
        who = viewer(request)
        name = task_of(who, industry, task)
        changing(who, csrf)
        if action not in ("promote", "canary", "shadow", "rollback"):
            raise Refusal(422, f"unknown action {action!r}: promote, canary, shadow or rollback")
        if action != "rollback":
            if not 1 <= version <= MAX_VERSION or version not in {row.version for row in registry.versions(name)}:
                raise Refusal(422, f"{name} has no version {version}")
            if action == "canary" and not 1 <= percent <= 99:
                raise Refusal(422, "a canary answers 1 to 99 percent of clients")
        if confirmed != "yes":
            return page(request, "confirm.html", who, task=name, action=action, version=version, percent=percent,
                        production=registry.alias(name), rollout=(r.describe() if (r := registry.rollout(name)) else None),
                        losing=losing(registry.get(name, version)) if action == "promote" else None)
        try:
            if action == "promote":
                registry.promote(name, version, actor=who.actor, force=force == "yes")
            elif action == "rollback":
                registry.rollback(name, actor=who.actor)
            else:
                registry.start_rollout(name, version, CANARY if action == "canary" else SHADOW, percent if action == "canary" else 100, who.actor)
        except UserError as exc:
            raise Refusal(409, str(exc)) from None
        return RedirectResponse(f"{PREFIX}/tasks/{name}", status_code=303)

    def try_form(request: Request, industry: str, task: str) -> tuple[Viewer, str, Any, list[tryit.FormField]]:
        who = viewer(request)
        name = task_of(who, industry, task)
        served = request.app.state.served
        try:
            pipeline = served.fresh(name) or served.get(name, 10.0)
        except NoModel as exc:
            raise Refusal(503, str(exc)) from None
        spec = host.task(name)
        example = _example(registry.artifacts / registry.get(name, pipeline.version).artifact_dir)
        fields = [] if spec.upload_field else tryit.form_fields(pipeline.input_model.model_json_schema(), example)
        return who, name, pipeline, fields

    @router.get("/tasks/{industry}/{task}/try", response_class=HTMLResponse)
    def try_page(request: Request, industry: str, task: str) -> HTMLResponse:
        who, name, pipeline, fields = try_form(request, industry, task)
        return page(request, "try.html", who, task=name, fields=fields, upload=host.task(name).upload_field, version=pipeline.version)

    @router.post("/tasks/{industry}/{task}/try", response_class=HTMLResponse)
    async def try_answer(request: Request, industry: str, task: str) -> HTMLResponse:
        """The form's instance through the task's own route; the answer drawn (a 4xx is shown as the API says it)."""
        who, name, pipeline, fields = await run_in_threadpool(try_form, request, industry, task)
        form = await request.form()
        if not sessions.csrf_ok(who.session, str(form.get("csrf", ""))):
            raise Refusal(403, "the form's CSRF token is missing or wrong: reload the page and try again")
        upload = host.task(name).upload_field
        problems: list[str] = []
        if upload:
            sent = [f for f in form.getlist("files") if hasattr(f, "read")]
            files = [(f.filename or "upload", await f.read(), f.content_type or "application/octet-stream") for f in sent]
            status, body = await tryit.answer(request.app, name, who.caller, files=files) if files else (422, {"detail": "choose a file"})
        else:
            values = {f.name: str(form.get(f.name, "")) for f in fields}
            for f in fields:
                f.value = values[f.name]
            record, problems = tryit.instance(fields, values)
            status, body = (422, {"detail": problems}) if problems else await tryit.answer(request.app, name, who.caller, record)
        answered = status == 200
        drawn = drawing.blocks((body.get("predictions") or [{}])[0]) if answered else []
        text = max((f.value for f in fields if f.kind == "textbox"), key=len, default="")
        words = next((drawing.highlighted(text, b) for b in drawn if b.kind == "bars" and text and b.title.startswith(("words", "tokens"))), None)
        return page(request, "try.html", who, status=200 if answered else status, task=name, fields=fields, upload=upload,
                    version=(body.get("model") or {}).get("version", pipeline.version) if answered else pipeline.version,
                    drawn=drawn, words=words, error=None if answered else body.get("detail"))

    @router.get("/tasks/{industry}/{task}/monitor", response_class=HTMLResponse)
    def monitor_page(request: Request, industry: str, task: str, window: str = "24h") -> HTMLResponse:
        """Traffic and the flagged share over a window, each version's feedback metrics and a rollout's
        agreement with production, and drift against the training reference (``aiaas.monitoring``)."""
        from aiaas.console.charts import edges, series
        from aiaas.monitoring.monitor import monitor, since

        who = viewer(request)
        name = task_of(who, industry, task)
        log = request.app.state.predictions
        if window not in WINDOWS:
            raise Refusal(422, f"window {window!r}: one of {', '.join(WINDOWS)}")
        if log is None:
            return page(request, "monitor.html", who, task=name, window=window, windows=WINDOWS, result=None, traffic=None)
        start = since(window)
        result = monitor(host, registry, log, name, start, figures=False, newest=NEWEST)
        end = datetime.now(UTC)
        cuts = edges(start, end)
        traffic = series(result.answers, start, end, counts=log.counts(name, cuts) if len(result.answers) >= NEWEST else None)
        timings = log.timings(name, cuts)
        return page(request, "monitor.html", who, task=name, window=window, windows=WINDOWS, result=result,
                    traffic=traffic, timings=timings, latency=latency_summary(timings),
                    drift=sorted(result.drift.items(), key=lambda kv: -kv[1])[:25])

    @router.get("/keys", response_class=HTMLResponse)
    def keys_page(request: Request, actor: str = "", action: str = "", target: str = "") -> HTMLResponse:
        """Keys (made, listed, revoked here) and the audit log, filtered; admin keys only."""
        who = viewer(request)
        if not who.admin:
            raise Refusal(403, f"key {who.name!r} may not manage keys")
        filters = {"actor": actor[:100], "action": action[:50], "target": target[:200]}
        events = registry.audit.events(200, **filters)
        return page(request, "keys.html", who, keys=[k.to_json() for k in keys.list()], events=[e.to_json() for e in reversed(events)],
                    filters=filters)

    @router.post("/keys/create", response_class=HTMLResponse)
    def create_key(request: Request, name: str = Form(""), scope: str = Form(""), days: str = Form(""), csrf: str = Form("")) -> Response:
        who = viewer(request)
        changing(who, csrf)
        try:
            expires = float(days) if days.strip() else None
            row, secret = keys.create(name.strip(), scope.strip(), expires)
        except ValueError:
            raise Refusal(422, f"days {days!r}: give a number of days, or nothing for a key that does not expire") from None
        except UserError as exc:
            raise Refusal(422, str(exc)) from None
        registry.audit.record(who.actor, "key-create", row.name, scope=row.scope,
                              expires_at=row.expires_at.isoformat() if row.expires_at else None, rate=row.rate)
        return page(request, "key_made.html", who, key=row.to_json(), secret=secret)

    @router.post("/keys/revoke", response_class=HTMLResponse)
    def revoke_key(request: Request, name: str = Form(""), csrf: str = Form(""), confirmed: str = Form("")) -> Response:
        who = viewer(request)
        changing(who, csrf)
        if confirmed != "yes":
            return page(request, "confirm_revoke.html", who, name=name)
        try:
            keys.revoke(name)
        except UserError as exc:
            raise Refusal(404, str(exc)) from None
        registry.audit.record(who.actor, "key-revoke", name)
        return RedirectResponse(f"{PREFIX}/keys", status_code=303)

    @router.get("/sign-in", response_class=HTMLResponse)
    def sign_in_page(request: Request) -> HTMLResponse:
        session = sessions.read(request.cookies.get(sessions.COOKIE)) or sessions.new()
        request.state.console_session = session
        return page(request, "sign_in.html", None, session=session, open=not enforced())

    @router.post("/sign-in", response_class=HTMLResponse)
    def sign_in(request: Request, key: str = Form(""), csrf: str = Form("")) -> Response:
        session = sessions.read(request.cookies.get(sessions.COOKIE))
        if session is None or not sessions.csrf_ok(session, csrf):
            raise Refusal(403, "the form's CSRF token is missing or wrong: reload the page and try again")
        caller = keys.caller(key.strip()) if key.strip() else None
        if caller is None:
            request.state.console_session = session
            return page(request, "sign_in.html", None, status=401, session=session, open=not enforced(),
                        error="that key is not valid (unknown, revoked or expired)")
        response = RedirectResponse(f"{PREFIX}/", status_code=303)
        set_cookie(request, response, sessions.new(caller.name))  # a new session (and token) once signed in
        return response

    @router.post("/sign-out")
    def sign_out(request: Request, csrf: str = Form("")) -> Response:
        session = sessions.read(request.cookies.get(sessions.COOKIE))
        if session is None or not sessions.csrf_ok(session, csrf):
            raise Refusal(403, "the form's CSRF token is missing or wrong: reload the page and try again")
        response = RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
        response.delete_cookie(sessions.COOKIE, path=PREFIX)
        return response

    return router


def set_cookie(request: Request, response: Response, session: Session) -> None:
    secure = request.url.scheme == "https"
    response.set_cookie(sessions.COOKIE, sessions.sign(session), max_age=sessions.MAX_AGE, path=PREFIX, httponly=True,
                        samesite="strict", secure=secure)


def latency_summary(timings: list[Any]) -> dict[str, Any]:
    """The window's model requests, server errors and its slowest bucket's p99 (an upper bound), and each bar's height."""
    from math import isinf

    worst = max((t.p99 for t in timings if t.p99 is not None), default=None)
    scale = max((t.p99 for t in timings if t.p99 is not None and not isinf(t.p99)), default=1.0) or 1.0
    heights = [0.0 if t.p99 is None else 100.0 if isinf(t.p99) else round(100 * t.p99 / scale, 1) for t in timings]
    return {"requests": sum(t.requests for t in timings), "errors": sum(t.errors for t in timings),
            "worst_ms": None if worst is None or isinf(worst) else 1000 * worst, "over": worst is not None and isinf(worst),
            "scale_ms": 1000 * scale, "heights": heights}


def _version_row(registry: Registry, row: dict[str, Any]) -> dict[str, Any]:
    """A version as the task page shows it: the registry's row and, when its files are here, what its manifest says."""
    manifest: dict[str, Any] = {}
    path = registry.artifacts / row["artifact_dir"] / "manifest.json"
    if path.is_file():
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError):
            manifest = {}
    floor = manifest.get("floor") if isinstance(manifest.get("floor"), dict) else {}
    folder = registry.artifacts / row["artifact_dir"]
    files = manifest.get("files") if isinstance(manifest.get("files"), dict) else {}
    size = sum((folder / name).stat().st_size for name in files if (folder / name).is_file())
    timed = [r.get("ms_per_row") for r in manifest.get("leaderboard", []) if isinstance(r, dict)
             and str(r.get("candidate", "")).startswith(f"{row['architecture']} ")]
    return {**row, "floor": floor, "size": size or None, "ms_per_row": timed[0] if timed else None,
            "optimized_from": (row.get("provenance") or {}).get("optimized_from"), "has_report": (folder / "report" / "report.html").is_file()}


def add_console(app: Any, host: Host, registry: Registry, access: Any) -> None:
    """Mount the console's pages and stylesheet on the service's app (``access``: its ``serving.access.Access``)."""
    from fastapi.staticfiles import StaticFiles

    from aiaas.console.live import Recent

    app.state.console_recent = Recent(app.state.metrics)  # its sampler starts with the first overview drawn
    app.include_router(console_router(host, registry, access.keys, access.enforced))
    app.mount(f"{PREFIX}/static", StaticFiles(packages=[("aiaas.console", "static")]), name="console-static")
    if DOCS_SITE.is_dir():  # built by `make docs` (MkDocs); the pages are public documentation, like /docs
        app.mount(f"{PREFIX}/docs", StaticFiles(directory=DOCS_SITE, html=True), name="console-docs")
    else:
        @app.get(f"{PREFIX}/docs/{{rest:path}}", include_in_schema=False)
        def no_docs(rest: str) -> Response:
            raise Refusal(404, "the docs site is not built here: run `make docs` (MkDocs), then restart `aiaas serve`")

    @app.exception_handler(SignIn)
    async def to_sign_in(request: Request, exc: SignIn) -> Response:
        return RedirectResponse(f"{PREFIX}/sign-in", status_code=303)

    @app.exception_handler(Refusal)
    async def refused(request: Request, exc: Refusal) -> Response:
        html = _templates.get_template("refused.html").render(viewer=None, prefix=PREFIX, request_path=request.url.path, status=exc.status,
                                                              reason=exc.reason)
        return HTMLResponse(html, status_code=exc.status, headers={"Content-Security-Policy": PAGE_POLICY, "Cache-Control": "no-store"})


def _example(folder: Path) -> dict[str, Any] | None:
    """A validation record the version keeps for its warm-up, to fill the form with something real."""
    from aiaas.warmup import load

    try:
        rows = load(folder)
    except (OSError, ValueError, KeyError):
        return None
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in rows[0].items()} if rows else None


def _drift(metrics: Any) -> dict[str, tuple[str, float]]:
    """Per task, the feature (or score) that drifted most, as the service's drift gauges last measured it."""
    out: dict[str, tuple[str, float]] = {}
    for family in metrics.drift.collect():
        for sample in family.samples:
            task, feature = sample.labels.get("task", ""), sample.labels.get("feature", "")
            if task and (task not in out or sample.value > out[task][1]):
                out[task] = (feature, float(sample.value))
    return out
