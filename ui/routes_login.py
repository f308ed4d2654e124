"""Log in / log out (only when the station has operator accounts)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from dossier_station.ui.app import check_form_csrf, render, set_session

router = APIRouter()


@router.get("/login")
async def login_form(request: Request) -> Response:
    return render(request, "login.html", error=None)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    check_form_csrf(request, form)
    name, password = str(form.get("name", "")), str(form.get("password", ""))
    role = request.app.state.accounts.check(name, password) if request.app.state.accounts.any() else None
    if role is None:
        return render(request, "login.html", error="bad_login")
    cookie, _ = request.app.state.sessions.issue(name, role, account=True)  # a new session (and CSRF token) after login
    resp = RedirectResponse("/batches", status_code=303)
    set_session(resp, cookie)
    return resp


@router.post("/logout")
async def logout(request: Request) -> Response:
    check_form_csrf(request, await request.form())
    cookie, _ = request.app.state.sessions.issue("", "")
    resp = RedirectResponse("/login", status_code=303)
    set_session(resp, cookie)
    return resp
