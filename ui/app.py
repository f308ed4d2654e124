"""The web app: one Starlette/FastAPI application per running ``dossier ui``.

``create_app`` checks the security rules before anything is served: a non-loopback address
needs operator accounts (else it refuses to start). Every request passes through one gate —
the Host header must name this server (no DNS rebinding), the session cookie is read or a fresh
one issued, and any request that changes something must carry the session's CSRF token and
come from our own origin. Screens live in ``routes_*.py``; they only call station functions.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from dossier_station.core.errors import BadArgsError, BusyError, DossierError
from dossier_station.ui.accounts import (
    SESSION_COOKIE,
    SESSION_MAX_AGE,
    Accounts,
    Operator,
    Sessions,
    is_loopback,
    station_secret,
)
from dossier_station.ui.events import EventBus
from dossier_station.ui.i18n import LANGS, pick, translator
from dossier_station.ui.jobs import Jobs
from dossier_station.ui.store import NotFound, Store

HERE = Path(__file__).resolve().parent
MAX_UPLOAD_BYTES = 64 * 1024 * 1024  # per request: a 200-page batch of A4 JPEGs fits
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
OPEN_PATHS = ("/login", "/static/", "/lang/")
FORM_PATHS = {"/login", "/logout"}  # plain HTML forms: the route checks the form's csrf field


@dataclass
class UiConfig:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8750
    profile: str | None = None
    demo: bool = False
    build_overrides: dict[str, Any] = field(default_factory=dict)  # e.g. {"engine": "tesseract", "jobs": 1}
    scan_schedule: dict[int, dict[str, Any]] | None = None  # virtual scanner's scripted faults (tests, demo)
    local_operator: str = field(default_factory=lambda: getpass.getuser())
    emulated_pads: bool = False  # the ISDV4/ZFM emulators instead of [pads] ports (demo, tests)
    software_key: bool = False  # event key in software (test station), not in the token

    def __post_init__(self) -> None:
        if self.demo:
            self.emulated_pads = self.software_key = True


def check_bind(cfg: UiConfig, accounts: Accounts) -> None:
    """Refuse to listen beyond this machine without operator accounts."""
    if not is_loopback(cfg.host) and not accounts.any():
        raise BadArgsError(
            f"refusing to listen on {cfg.host}: without operator accounts the station UI serves 127.0.0.1 only",
            hint="create accounts first: dossier ui --add-user NAME --role clerk|officer|supervisor",
        )


def create_app(cfg: UiConfig) -> FastAPI:
    store = Store(cfg.data_dir)
    accounts = Accounts(store.root)
    check_bind(cfg, accounts)
    sessions = Sessions(station_secret(store.root))
    bus = EventBus()
    jobs = Jobs(bus)
    closing = asyncio.Event()
    templates = Jinja2Templates(directory=str(HERE / "templates"))

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):  # type: ignore[no-untyped-def]
        yield
        closing.set()  # ends the open event streams, so the server can stop
        jobs.shutdown()

    app = FastAPI(title="dossier station", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.cfg, app.state.store, app.state.accounts = cfg, store, accounts
    app.state.sessions, app.state.bus, app.state.jobs, app.state.closing = sessions, bus, jobs, closing
    app.state.templates = templates
    _devices(app, cfg, store)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    allowed_hosts = {cfg.host, "127.0.0.1", "localhost", "[::1]"}

    @app.middleware("http")
    async def gate(request: Request, call_next):  # type: ignore[no-untyped-def]
        host = (request.headers.get("host") or "").rsplit(":", 1)[0]
        if host not in allowed_hosts:
            return Response("unknown Host header", status_code=421, media_type="text/plain; charset=utf-8")
        op = sessions.read(request.cookies.get(SESSION_COOKIE))
        fresh = None
        has_accounts = accounts.any()
        if op is not None and has_accounts and op.name and not op.account:
            op = None  # a desktop-user session from before accounts existed is not a log-in
        if op is None or (not has_accounts and not op.name):
            if has_accounts:
                fresh, op = sessions.issue("", "")  # anonymous: may only log in
            else:
                fresh, op = sessions.issue(cfg.local_operator, "supervisor")
        request.state.operator = op
        if request.method not in SAFE_METHODS:
            origin = request.headers.get("origin")
            if origin and origin.split("://", 1)[-1].rsplit(":", 1)[0] not in allowed_hosts:
                return _refuse(request, 403, "cross-origin request refused")
            token = request.headers.get("x-csrf-token")
            form_post = request.url.path in FORM_PATHS and token is None
            if not form_post and (fresh is not None or not token or token != op.csrf):
                return _refuse(request, 403, "missing or wrong CSRF token: reload the page and try again")
            length = request.headers.get("content-length")
            if length and length.isdigit() and int(length) > MAX_UPLOAD_BYTES:
                return _refuse(request, 413, f"upload larger than {MAX_UPLOAD_BYTES // 2**20} MiB")
        if not op.name and not request.url.path.startswith(OPEN_PATHS):
            resp: Response = RedirectResponse("/login", status_code=303) if request.method == "GET" else _refuse(request, 401, "log in first")
        else:
            resp = await call_next(request)
        if fresh is not None:
            set_session(resp, fresh)
        return resp

    @app.exception_handler(DossierError)
    async def dossier_error(request: Request, exc: DossierError) -> Response:
        status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, BusyError) else 400
        return _refuse(request, status, exc.message, exc.hint)

    @app.exception_handler(PermissionError)
    async def forbidden(request: Request, exc: PermissionError) -> Response:
        return _refuse(request, 403, str(exc))

    @app.get("/lang/{code}")
    async def set_lang(code: str, request: Request) -> Response:
        back = request.headers.get("referer") or "/"
        resp = RedirectResponse(back if back.startswith(str(request.base_url)) else "/", status_code=303)
        resp.set_cookie("lang", pick(code), max_age=365 * 86400, samesite="strict", httponly=True)
        return resp

    from dossier_station.ui import (
        routes_batches,
        routes_build,
        routes_check,
        routes_login,
        routes_queues,
        routes_scan,
        routes_sign,
        routes_verify,
    )

    for mod in (routes_login, routes_batches, routes_scan, routes_check, routes_build, routes_verify, routes_queues, routes_sign):
        app.include_router(mod.router)
    return app


def _devices(app: FastAPI, cfg: UiConfig, store: Store) -> None:
    """Scanners are probed once in the background (SANE can take seconds); the demo's virtual
    scanner is fed the sample pages, as ``dossier demo`` does."""
    found: list[str] = []
    schedule = cfg.scan_schedule
    if cfg.demo:
        from dossier_station.ui.demo import prepare_demo_scanner

        schedule = schedule or prepare_demo_scanner(store.root)

    def probe() -> None:
        from dossier_station.devices.scanner import list_devices

        with contextlib.suppress(DossierError):
            found[:] = [d.name for d in list_devices(timeout=20)]

    threading.Thread(target=probe, name="dossier-ui-scanners", daemon=True).start()
    app.state.scanners = lambda: list(found)
    app.state.scan_schedule = lambda: schedule


def set_session(resp: Response, value: str) -> None:
    resp.set_cookie(SESSION_COOKIE, value, max_age=SESSION_MAX_AGE, httponly=True, samesite="strict", path="/")


def _refuse(request: Request, status: int, message: str, hint: str | None = None) -> Response:
    if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
        body = f"<!doctype html><meta charset='utf-8'><title>{status}</title><h1>{status}</h1><p>{_esc(message)}</p>"
        if hint:
            body += f"<p>{_esc(hint)}</p>"
        return HTMLResponse(body + "<p><a href='/batches'>←</a></p>", status_code=status)
    return JSONResponse({"error": message, "hint": hint}, status_code=status)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def check_form_csrf(request: Request, form: Any) -> None:
    """For the plain forms (log in / out): the token travels as a field, not a header."""
    op: Operator = request.state.operator
    token = request.headers.get("x-csrf-token") or form.get("csrf")
    if not token or token != op.csrf or request.cookies.get(SESSION_COOKIE) is None:
        raise PermissionError("missing or wrong CSRF token: reload the page and try again")


def operator(request: Request, action: str | None = None) -> Operator:
    op: Operator = request.state.operator
    if action and not op.may(action):
        raise PermissionError(f"{op.name} ({op.role}) may not {action}")
    return op


def render(request: Request, template: str, **ctx: Any) -> HTMLResponse:
    lang = pick(request.cookies.get("lang"))
    op: Operator = request.state.operator
    ctx |= {"request": request, "t": translator(lang), "lang": lang, "langs": LANGS, "op": op, "csrf": op.csrf,
            "accounts": request.app.state.accounts.any()}
    resp = request.app.state.templates.TemplateResponse(request, template, ctx)
    resp.headers["content-type"] = "text/html; charset=utf-8"
    resp.headers["x-frame-options"] = "SAMEORIGIN"
    resp.headers["content-security-policy"] = "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; frame-src 'self'; object-src 'self'"
    return resp
