"""Sign-in (password, then TOTP), sign-out, language, one's own password and 2FA enrolment."""

from __future__ import annotations

import base64
import io
from typing import Annotated
from urllib.parse import quote

from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRouter

from grievance.accounts import MIN_PASSWORD_CHARS, InvalidCredentials, LoginThrottled
from grievance.console.app import PREFIX, Console, ConsoleRedirect, redirect
from grievance.console.texts import CONSOLE_LANGUAGES

#: The issuer shown in authenticator apps.
TOTP_ISSUER = "WorkRight"


def qr_data_uri(text: str) -> str:
    """An SVG QR code of ``text`` as a ``data:`` URI (rendered here: nothing leaves)."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _local(url: str | None) -> str:
    """``url`` if it is a console path (no open redirect), else the queue."""
    if url and url.startswith(PREFIX + "/") and not url.startswith("//") and "\\" not in url:
        return url
    return f"{PREFIX}/cases"


def add_routes(router: APIRouter, console: Console) -> None:
    """Add the sign-in and account routes."""

    @router.get("", include_in_schema=False)
    @router.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        console.actor(request)
        return redirect(f"{PREFIX}/cases")

    @router.get("/login")
    def login_form(request: Request) -> Response:
        if console.session(request).signed_in:
            return redirect(f"{PREFIX}/cases")
        return console.render(request, "login.html", error=None, name="")

    @router.post("/login")
    def login(
        request: Request,
        name: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        console.require_csrf(request, csrf)
        try:
            account = console.accounts.authenticate(
                name, password, client=console.client(request)
            )
        except LoginThrottled:
            return console.render(
                request, "login.html", error="login_throttled", name=name, status_code=429
            )
        except InvalidCredentials:
            return console.render(
                request, "login.html", error="login_failed", name=name, status_code=401
            )
        # A new session id at sign-in: a session planted before cannot be taken over.
        console.replace_session(
            request, console.codec.new(account.moderator_id, epoch=account.session_epoch)
        )
        if account.totp_enabled:
            return redirect(f"{PREFIX}/login/totp")
        return redirect(f"{PREFIX}/cases")

    @router.get("/login/totp")
    def totp_form(request: Request) -> Response:
        session = console.session(request)
        if not session.signed_in:
            return redirect(f"{PREFIX}/login")
        if session.totp_ok:
            return redirect(f"{PREFIX}/cases")
        return console.render(request, "totp.html", error=None)

    @router.post("/login/totp")
    def totp(
        request: Request,
        code: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        session = console.session(request)
        if session.moderator_id is None:
            return redirect(f"{PREFIX}/login")
        console.require_csrf(request, csrf)
        try:
            console.accounts.verify_totp(
                session.moderator_id, code, client=console.client(request)
            )
        except LoginThrottled:
            return console.render(request, "totp.html", error="login_throttled", status_code=429)
        except InvalidCredentials:
            return console.render(request, "totp.html", error="totp_failed", status_code=401)
        console.replace_session(
            request,
            console.codec.new(session.moderator_id, epoch=session.epoch, totp_ok=True),
        )
        return redirect(f"{PREFIX}/cases")

    @router.post("/logout")
    def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
        console.require_csrf(request, csrf)
        session = console.session(request)
        if session.moderator_id is not None:
            # Cookies are stateless: bump the epoch so a copy of this one is void too.
            console.accounts.sign_out(session.moderator_id)
        console.replace_session(request, console.codec.new())
        return redirect(f"{PREFIX}/login")

    @router.get("/lang")
    def language(
        request: Request,
        to: Annotated[str, Query()] = "",
        next: Annotated[str, Query()] = "",  # noqa: A002 - the usual name
    ) -> Response:
        del request
        response: RedirectResponse = redirect(_local(next))
        if to in CONSOLE_LANGUAGES:
            response.set_cookie(
                "wr_console_lang", to, max_age=365 * 86400, samesite="strict", path=PREFIX
            )
        return response

    @router.get("/account")
    def account_page(request: Request) -> HTMLResponse:
        actor = console.actor(request, complete=False)
        done = request.query_params.get("done")
        return console.render(
            request,
            "account.html",
            actor=actor,
            done=done if done in ("pw_changed", "enrol_done") else None,
        )

    @router.get("/account/password")
    def password_form(request: Request) -> HTMLResponse:
        actor = console.actor(request, complete=False)
        return console.render(
            request, "password.html", actor=actor, error=None, min_chars=MIN_PASSWORD_CHARS
        )

    @router.post("/account/password")
    def change_password(
        request: Request,
        current: Annotated[str, Form()] = "",
        new: Annotated[str, Form()] = "",
        repeat: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        actor = console.actor(request, complete=False)
        console.require_csrf(request, csrf)
        error = None
        if new != repeat:
            error = "pw_mismatch"
        elif len(new) < MIN_PASSWORD_CHARS:
            error = "pw_too_short"
        elif new == current:
            error = "pw_same"
        else:
            try:
                console.accounts.change_password(actor.moderator_id, current, new)
            except InvalidCredentials:
                error = "pw_wrong"
        if error is not None:
            return console.render(
                request,
                "password.html",
                actor=actor,
                error=error,
                min_chars=MIN_PASSWORD_CHARS,
                status_code=400,
            )
        return redirect(f"{PREFIX}/account?done=pw_changed")

    def _enrol_page(request: Request, error: str | None, status_code: int = 200) -> Response:
        actor = console.actor(request, complete=False)
        if actor.account.must_change_password:
            raise ConsoleRedirect(f"{PREFIX}/account/password")
        if actor.account.totp_enabled:
            return console.render(request, "enrol.html", actor=actor, enabled=True, error=None)
        secret = console.accounts.begin_totp(actor.moderator_id)
        uri = (
            f"otpauth://totp/{quote(TOTP_ISSUER)}:{quote(actor.account.name)}"
            f"?secret={secret}&issuer={quote(TOTP_ISSUER)}"
        )
        return console.render(
            request,
            "enrol.html",
            actor=actor,
            enabled=False,
            error=error,
            secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            qr=qr_data_uri(uri),
            required=console.accounts.require_2fa(),
            status_code=status_code,
        )

    @router.get("/account/2fa")
    def enrol_form(request: Request) -> Response:
        return _enrol_page(request, None)

    @router.post("/account/2fa")
    def enrol(
        request: Request,
        code: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        actor = console.actor(request, complete=False)
        console.require_csrf(request, csrf)
        try:
            console.accounts.confirm_totp(actor.moderator_id, code)
        except InvalidCredentials:
            return _enrol_page(request, "enrol_failed", 400)
        except ValueError:
            return redirect(f"{PREFIX}/account/2fa")
        # This session has just proved the second factor.
        session = actor.session
        console.replace_session(
            request, console.codec.new(session.moderator_id, epoch=session.epoch, totp_ok=True)
        )
        return redirect(f"{PREFIX}/account?done=enrol_done")
