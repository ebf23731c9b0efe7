"""The moderator console: server-rendered pages under ``/console`` on the grievance services.

``mount(api, app)`` is found by ``bot/run.py`` and adds the console to ``workright serve``.
Every console route runs through one wrapper that reads the signed session cookie,
writes it back refreshed (the idle timeout), sets strict security headers, and turns the
console's own exceptions into a redirect to the sign-in page, a 403 or a 503 page.

The console talks to :class:`~grievance.service.GrievanceService`,
:class:`~grievance.accounts.ModeratorAccounts` and
:class:`~grievance.stats.CaseStatistics`, never to the tables.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute, APIRouter

from grievance.accounts import ModeratorAccount, ModeratorAccounts
from grievance.console.clocks import describe
from grievance.console.sessions import COOKIE_NAME, ConsoleSession, SessionCodec
from grievance.console.texts import CONSOLE_LANGUAGES, ConsoleTexts, pick_language
from grievance.crypto import Vault
from grievance.db import as_utc, utcnow
from grievance.errors import StorageUnavailable
from grievance.service import GrievanceService
from grievance.stats import CaseStatistics

logger = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"
PREFIX = "/console"
LANG_COOKIE = "wr_console_lang"

#: No script at all, styles only from our own file, no framing, forms post only to us.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class ConsoleHost(Protocol):
    """What the console needs from the composition root (``bot.app.App`` has it)."""

    @property
    def settings(self) -> Any:
        """The settings; ``settings.secrets.console_secret`` is read if set."""

    @property
    def vault(self) -> Vault:
        """The vault (a console secret is derived from it when none is set)."""

    @property
    def services(self) -> dict[str, Any]:
        """``services["grievance"]`` and ``services["sessions"]``."""


class ConsoleRedirect(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Send the browser elsewhere (sign-in page, the next sign-in step)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


class ConsoleForbidden(Exception):  # noqa: N818
    """The signed-in moderator may not do this (an admin-only page)."""


class CsrfRejected(Exception):  # noqa: N818
    """A form came without this session's CSRF token."""


@dataclass(frozen=True, slots=True)
class Actor:
    """The signed-in moderator of a request."""

    account: ModeratorAccount
    session: ConsoleSession

    @property
    def moderator_id(self) -> int:
        """The moderator's id."""
        return self.account.moderator_id


def console_secret(host: ConsoleHost) -> bytes:
    """``WORKRIGHT_CONSOLE_SECRET`` if set, else a key derived from the master key.

    Raises:
        ValueError: the configured secret is shorter than 32 characters.
    """
    configured = getattr(getattr(host.settings, "secrets", None), "console_secret", None)
    if configured is not None:
        raw = configured.get_secret_value().encode("utf-8")
        if len(raw) < 32:
            raise ValueError("WORKRIGHT_CONSOLE_SECRET must be at least 32 characters long")
        return bytes(raw)
    return host.vault.subkey("console-session")


class Console:
    """The console's services, texts, templates and request helpers.

    Usage example::

        console = Console.build(app)            # app: bot.app.App
        install(api, console)                   # what mount(api, app) does

    Args:
        service: the grievance service (cases).
        accounts: moderator accounts.
        stats: dashboard figures.
        codec: session cookies and CSRF tokens.
        texts: the zh/en interface texts.
        clock: the current tz-aware time (deadline clocks).
        secure_cookies: force the cookie's Secure flag; None sets it on HTTPS requests.
    """

    def __init__(
        self,
        service: GrievanceService,
        accounts: ModeratorAccounts,
        stats: CaseStatistics,
        codec: SessionCodec,
        texts: ConsoleTexts,
        *,
        clock: Callable[[], datetime] = utcnow,
        secure_cookies: bool | None = None,
    ) -> None:
        self.service = service
        self.accounts = accounts
        self.stats = stats
        self.codec = codec
        self.texts = texts
        self.clock = clock
        self.secure_cookies = secure_cookies
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    @classmethod
    def build(
        cls,
        host: ConsoleHost,
        *,
        clock: Callable[[], datetime] = utcnow,
        idle_timeout: timedelta = timedelta(minutes=30),
        accounts: ModeratorAccounts | None = None,
    ) -> Console:
        """The console of a built application.

        Raises:
            KeyError: the host has no grievance service or session factory.
            ValueError: a bad console secret or incomplete texts.
        """
        service: GrievanceService = host.services["grievance"]
        sessions = host.services["sessions"]
        return cls(
            service=service,
            accounts=accounts or ModeratorAccounts(sessions, host.vault, service, clock),
            stats=CaseStatistics(sessions, clock),
            codec=SessionCodec(console_secret(host), idle_timeout=idle_timeout, clock=clock),
            texts=ConsoleTexts.load(),
            clock=clock,
        )

    # -- request helpers --------------------------------------------------------------

    def now(self) -> datetime:
        """The current time, tz-aware."""
        return as_utc(self.clock())

    def session(self, request: Request) -> ConsoleSession:
        """The request's session (anonymous until sign-in)."""
        session: ConsoleSession = request.state.console_session
        return session

    def replace_session(self, request: Request, session: ConsoleSession) -> None:
        """Use ``session`` from now on (a new id at sign-in and sign-out)."""
        request.state.console_session = session

    def lang(self, request: Request) -> str:
        """The interface language of this request."""
        return pick_language(
            request.cookies.get(LANG_COOKIE), request.headers.get("accept-language")
        )

    def t(self, request: Request, key: str, **values: Any) -> str:
        """A console text in the request's language."""
        return self.texts.text(key, self.lang(request), **values)

    def client(self, request: Request) -> str:
        """The client address, for sign-in throttling."""
        return request.client.host if request.client else "unknown"

    def require_csrf(self, request: Request, token: str | None) -> None:
        """Refuse a form without this session's token.

        Raises:
            CsrfRejected: the token is missing or wrong.
        """
        if not self.codec.check_csrf(self.session(request), token):
            raise CsrfRejected()

    def actor(self, request: Request, *, admin: bool = False, complete: bool = True) -> Actor:
        """The signed-in moderator, or a redirect to the sign-in step still missing.

        Args:
            request: the request.
            admin: the page is for admins only.
            complete: the one-time password must be changed and two-factor enrolment
                done (False for the pages that do exactly that).

        Raises:
            ConsoleRedirect: not signed in, session void, or a sign-in step is missing.
            ConsoleForbidden: ``admin`` and the moderator is not an admin.
        """
        session = self.session(request)
        if session.moderator_id is None:
            raise ConsoleRedirect(f"{PREFIX}/login")
        account = self.accounts.get(session.moderator_id)
        if account is None or not account.active or account.session_epoch != session.epoch:
            self.replace_session(request, self.codec.new())
            raise ConsoleRedirect(f"{PREFIX}/login")
        if account.totp_enabled and not session.totp_ok:
            raise ConsoleRedirect(f"{PREFIX}/login/totp")
        if complete:
            if account.must_change_password:
                raise ConsoleRedirect(f"{PREFIX}/account/password")
            if not account.totp_enabled and self.accounts.require_2fa():
                raise ConsoleRedirect(f"{PREFIX}/account/2fa")
        if admin and not account.is_admin:
            raise ConsoleForbidden()
        return Actor(account, session)

    def render(
        self,
        request: Request,
        template: str,
        *,
        actor: Actor | None = None,
        status_code: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        """Render a page with the common context (texts, CSRF token, who is signed in)."""
        lang = self.lang(request)

        def t(key: str, /, **values: Any) -> str:
            return self.texts.text(key, lang, **values)

        html = self.env.get_template(template).render(
            t=t,
            clock_text=lambda clock: describe(clock, t),
            when=format_time,
            lang=lang,
            other_lang=next(code for code in CONSOLE_LANGUAGES if code != lang),
            csrf=self.codec.csrf_token(self.session(request)),
            me=actor.account if actor else None,
            path=request.url.path,
            prefix=PREFIX,
            **context,
        )
        return HTMLResponse(html, status_code=status_code)

    def error(self, request: Request, key: str, status_code: int) -> HTMLResponse:
        """A plain error page."""
        return self.render(request, "error.html", message_key=key, status_code=status_code)


def format_time(moment: datetime | None) -> str:
    """``2026-11-21 09:00`` (UTC), or an empty string."""
    return "" if moment is None else as_utc(moment).strftime("%Y-%m-%d %H:%M")


def redirect(url: str) -> RedirectResponse:
    """A 303 redirect (after a form post, the browser GETs the next page)."""
    return RedirectResponse(url, status_code=303)


def _route_class(console: Console) -> type[APIRoute]:
    """A route class that runs every console route inside the session wrapper."""

    class ConsoleRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            inner = super().get_route_handler()

            async def handler(request: Request) -> Response:
                codec = console.codec
                session = codec.loads(request.cookies.get(COOKIE_NAME)) or codec.new()
                request.state.console_session = session
                try:
                    response = await inner(request)
                except ConsoleRedirect as exc:
                    response = redirect(exc.url)
                except ConsoleForbidden:
                    response = console.error(request, "err_forbidden", 403)
                except CsrfRejected:
                    response = console.error(request, "err_csrf", 403)
                except StorageUnavailable:
                    response = console.error(request, "err_storage", 503)
                current = console.session(request)
                secure = (
                    console.secure_cookies
                    if console.secure_cookies is not None
                    else request.url.scheme == "https"
                )
                response.set_cookie(
                    COOKIE_NAME,
                    codec.dumps(codec.touch(current)),
                    httponly=True,
                    samesite="strict",
                    secure=secure,
                    path=PREFIX,
                )
                for name, value in SECURITY_HEADERS.items():
                    response.headers.setdefault(name, value)
                return response

            return handler

    return ConsoleRoute


def install(api: FastAPI, console: Console) -> None:
    """Add the console's routes and its stylesheet to ``api``."""
    from grievance.console import routes_admin, routes_auth, routes_cases

    router = APIRouter(prefix=PREFIX, route_class=_route_class(console))
    routes_auth.add_routes(router, console)
    routes_cases.add_routes(router, console)
    routes_admin.add_routes(router, console)
    api.include_router(router)

    @api.get(f"{PREFIX}/static/console.css", include_in_schema=False)
    async def stylesheet() -> Response:
        css = (STATIC_DIR / "console.css").read_bytes()
        return Response(
            css,
            media_type="text/css; charset=utf-8",
            headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"},
        )


def mount(api: FastAPI, app: ConsoleHost) -> None:
    """Serve the moderator console under ``/console`` (found by ``bot/run.py``).

    Args:
        api: the FastAPI application from ``bot.server.create_server``.
        app: the built application (``bot.app.App``).
    """
    install(api, Console.build(app))
    logger.info("moderator console mounted at %s", PREFIX)
