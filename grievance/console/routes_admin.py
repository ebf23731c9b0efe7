"""The dashboard (every moderator), the admin page and the CSV export (admins only)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRouter

from grievance.console.app import PREFIX, Actor, Console, redirect
from grievance.console.charts import horizontal_bars, weekly_stacked
from grievance.errors import ModeratorNotFound
from grievance.models import ROLES
from grievance.stats import MIN_REPORTERS, Median
from grievance.values import CaseFilter

#: Periods the dashboard offers, in weeks.
PERIODS: tuple[int, ...] = (4, 12, 26, 52)
#: Characters that make a spreadsheet treat a cell as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: str) -> str:
    """Defuse spreadsheet formulas: a cell starting with ``=``, ``+``, ``-`` or ``@``."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def export_csv(rows: list[dict[str, str]]) -> str:
    """The rows as CSV text (UTF-8 with a BOM so spreadsheets read Chinese correctly)."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\r\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: csv_safe(value) for key, value in row.items()})
    return buffer.getvalue()


def add_routes(router: APIRouter, console: Console) -> None:
    """Add the dashboard, admin and export routes."""

    def duration(median: Median, t: Any) -> str | None:
        if median.value is None:
            return None
        hours = int(median.value / timedelta(hours=1))
        if hours < 24:
            return str(t("duration_hours", h=hours))
        return str(t("duration_days", d=hours // 24, h=hours % 24))

    @router.get("/dashboard")
    def dashboard(request: Request, weeks: Annotated[str, Query()] = "12") -> HTMLResponse:
        actor = console.actor(request)
        period = int(weeks) if weeks.isdigit() and int(weeks) in PERIODS else 12
        board = console.stats.dashboard(weeks=period)
        lang = console.lang(request)

        def t(key: str, /, **values: Any) -> str:
            return console.texts.text(key, lang, **values)

        def category(name: str) -> str:
            return t(f"cat_{name}") if console.texts.has(f"cat_{name}") else name

        weekly, legend = weekly_stacked(
            board.weeks,
            board.by_week,
            category,
            rest_label=t("dash_rest"),
            hidden_label=t("dash_hidden"),
            title=t("dash_per_week"),
        )
        console.accounts.audit("view_dashboard", actor.moderator_id, details={"weeks": period})
        return console.render(
            request,
            "dashboard.html",
            actor=actor,
            board=board,
            period=period,
            periods=PERIODS,
            weekly=weekly,
            legend=legend,
            by_category=horizontal_bars(
                board.by_category, category, rest_label=t("dash_rest"),
                title=t("dash_by_category"),
            ),
            questions=horizontal_bars(
                board.questions, category, rest_label=t("dash_rest"),
                title=t("dash_questions"), colour="#59a14f",
            ),
            to_acknowledge=duration(board.to_acknowledge, t),
            to_resolve=duration(board.to_resolve, t),
            category=category,
            min_reporters=MIN_REPORTERS,
        )

    def admin_page(
        request: Request,
        actor: Actor,
        *,
        one_time: tuple[str, str] | None = None,
        error: str | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        accounts = console.accounts.list_accounts()
        done = request.query_params.get("done") == "1"
        return console.render(
            request,
            "admin.html",
            actor=actor,
            accounts=accounts,
            names={a.moderator_id: a.name for a in accounts},
            require_2fa=console.accounts.require_2fa(),
            audit=console.accounts.audit_entries(50),
            roles=ROLES,
            one_time=one_time,
            error=error,
            done=done and one_time is None and error is None,
            status_code=status_code,
        )

    @router.get("/admin")
    def admin(request: Request) -> HTMLResponse:
        actor = console.actor(request, admin=True)
        return admin_page(request, actor)

    @router.post("/admin/require-2fa")
    def require_2fa(
        request: Request,
        required: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        actor = console.actor(request, admin=True)
        console.require_csrf(request, csrf)
        console.accounts.set_require_2fa(required == "1", actor_id=actor.moderator_id)
        return redirect(f"{PREFIX}/admin?done=1")

    @router.post("/admin/moderators")
    def add_moderator(
        request: Request,
        name: Annotated[str, Form()] = "",
        role: Annotated[str, Form()] = "moderator",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        actor = console.actor(request, admin=True)
        console.require_csrf(request, csrf)
        name = name.strip()
        if not name or len(name) > 100 or role not in ROLES:
            return admin_page(request, actor, error="admin_error_name", status_code=400)
        try:
            _, password = console.accounts.create(name, role=role, actor_id=actor.moderator_id)
        except ValueError:
            return admin_page(request, actor, error="admin_error_name", status_code=400)
        # Shown in this response only (no-store), never stored or logged.
        return admin_page(request, actor, one_time=(name, password))

    @router.post("/admin/moderators/{moderator_id}/{action}")
    def moderator_action(
        request: Request,
        moderator_id: int,
        action: str,
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        actor = console.actor(request, admin=True)
        console.require_csrf(request, csrf)
        target = console.accounts.get(moderator_id)
        if target is None or action not in ("disable", "enable", "reset-password", "reset-2fa"):
            return console.error(request, "error_moderator", 404)
        try:
            if action in ("disable", "enable"):
                console.accounts.set_active(
                    moderator_id, action == "enable", actor_id=actor.moderator_id
                )
            elif action == "reset-2fa":
                console.accounts.reset_totp(moderator_id, actor_id=actor.moderator_id)
            else:
                password = console.accounts.reset_password(
                    moderator_id, actor_id=actor.moderator_id
                )
                return admin_page(request, actor, one_time=(target.name, password))
        except ValueError:
            return admin_page(request, actor, error="admin_error_self", status_code=400)
        except ModeratorNotFound:
            return console.error(request, "error_moderator", 404)
        return redirect(f"{PREFIX}/admin?done=1")

    @router.get("/export")
    def export_form(request: Request) -> Response:
        console.actor(request, admin=True)
        return redirect(f"{PREFIX}/admin#export")

    @router.post("/export")
    def export(
        request: Request,
        include_text: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        actor = console.actor(request, admin=True)
        console.require_csrf(request, csrf)
        rows = console.service.export_rows(
            actor.moderator_id, CaseFilter(limit=10_000), include_text=include_text == "1"
        )
        stamp = console.now().strftime("%Y%m%d-%H%M")
        return Response(
            export_csv(rows).encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="workright-cases-{stamp}.csv"'},
        )
