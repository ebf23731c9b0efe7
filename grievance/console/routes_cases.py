"""The case queue and the case page: read, assign, change status, note, reply."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRouter

from grievance.console.app import PREFIX, Actor, Console, redirect
from grievance.console.clocks import acknowledge_clock, feedback_clock
from grievance.errors import (
    CaseNotFound,
    ContactNotAllowed,
    InvalidTransition,
    ModeratorNotFound,
)
from grievance.models import CATEGORIES, STATUSES, TRANSITIONS, URGENCIES
from grievance.values import MAX_TEXT_CHARS, CaseDetail, CaseEventView, CaseFilter

PAGE_SIZE = 50
_JURISDICTION = re.compile(r"^[A-Z]{2,8}$")
_DONE = {"assigned": "done_assigned", "status": "done_status", "note": "done_note",
         "reply": "done_reply"}
_TEXT_EVENTS = ("note", "reply_sent", "worker_message")


def queue_filter(
    actor: Actor,
    *,
    status: str,
    category: str,
    urgency: str,
    jurisdiction: str,
    assignee: str,
    overdue: str,
    page: int,
) -> tuple[CaseFilter, dict[str, str]]:
    """The service filter for the queue's query string; unknown values mean "any".

    Returns:
        The filter (one row more than a page, to know if there is a next page) and the
        cleaned values to show in the form and to write to the audit log.
    """
    clean = {
        "status": status if status in STATUSES else "",
        "category": category if category in CATEGORIES else "",
        "urgency": urgency if urgency in URGENCIES else "",
        "jurisdiction": jurisdiction if _JURISDICTION.match(jurisdiction) else "",
        "assignee": assignee if assignee in ("me", "none") or assignee.isdigit() else "",
        "overdue": overdue if overdue in ("yes", "no") else "",
    }
    assignee_id: int | None = None
    if clean["assignee"] == "me":
        assignee_id = actor.moderator_id
    elif clean["assignee"].isdigit():
        assignee_id = int(clean["assignee"])
    filters = CaseFilter(
        status=clean["status"] or None,
        category=clean["category"] or None,
        urgency=clean["urgency"] or None,
        jurisdiction=clean["jurisdiction"] or None,
        assignee_id=assignee_id,
        unassigned=clean["assignee"] == "none",
        overdue={"yes": True, "no": False}.get(clean["overdue"]),
        limit=PAGE_SIZE + 1,
        offset=(page - 1) * PAGE_SIZE,
    )
    return filters, clean


def add_routes(router: APIRouter, console: Console) -> None:
    """Add the queue and case routes."""

    def names() -> dict[int, str]:
        return {a.moderator_id: a.name for a in console.accounts.list_accounts()}

    @router.get("/cases")
    def queue(
        request: Request,
        status: Annotated[str, Query()] = "",
        category: Annotated[str, Query()] = "",
        urgency: Annotated[str, Query()] = "",
        jurisdiction: Annotated[str, Query()] = "",
        assignee: Annotated[str, Query()] = "",
        overdue: Annotated[str, Query()] = "",
        page: Annotated[str, Query()] = "1",
    ) -> HTMLResponse:
        actor = console.actor(request)
        page_no = int(page) if page.isdigit() and 0 < int(page) <= 10_000 else 1
        filters, clean = queue_filter(
            actor,
            status=status,
            category=category,
            urgency=urgency,
            jurisdiction=jurisdiction,
            assignee=assignee,
            overdue=overdue,
            page=page_no,
        )
        cases = console.service.list_cases(filters)
        has_next = len(cases) > PAGE_SIZE
        cases = cases[:PAGE_SIZE]
        now = console.now()
        rows = [
            {"case": c, "ack": acknowledge_clock(c, now), "feedback": feedback_clock(c, now)}
            for c in cases
        ]
        console.accounts.audit(
            "view_queue",
            actor.moderator_id,
            details={k: v for k, v in clean.items() if v} | {"page": page_no, "rows": len(rows)},
        )
        query = "&".join(f"{k}={v}" for k, v in clean.items() if v)
        return console.render(
            request,
            "queue.html",
            actor=actor,
            rows=rows,
            filters=clean,
            page=page_no,
            has_next=has_next,
            query=query,
            moderators=console.accounts.list_accounts(),
            names=names(),
            jurisdictions=console.stats.jurisdictions(),
            statuses=STATUSES,
            categories=CATEGORIES,
            urgencies=URGENCIES,
            now=now,
        )

    def timeline(events: tuple[CaseEventView, ...], who: dict[int, str], t: Any) -> list[Any]:
        entries = []
        for event in events:
            data = event.data
            if event.kind == "assigned":
                to = data.get("to")
                title = t("ev_assigned", to=who.get(to, t("unknown_moderator", id=to))
                          if to is not None else t("nobody"))
            elif event.kind == "status_changed":
                title = t("ev_status_changed", old=t(f"status_{data.get('from')}"),
                          new=t(f"status_{data.get('to')}"))
            elif console.texts.has(f"ev_{event.kind}"):
                title = t(f"ev_{event.kind}")
            else:
                title = event.kind
            if event.actor == "moderator" and event.moderator_id is not None:
                by = who.get(event.moderator_id, t("unknown_moderator", id=event.moderator_id))
            else:
                by = t(f"actor_{event.actor}") if event.actor in ("worker", "system") else ""
            entries.append({
                "kind": event.kind,
                "at": event.created_at,
                "title": title,
                "by": by,
                "text": event.text if event.kind in _TEXT_EVENTS else None,
            })
        return entries

    def case_page(
        request: Request,
        actor: Actor,
        case_id: int,
        *,
        error: str | None = None,
        status_code: int = 200,
        draft_note: str = "",
        draft_reply: str = "",
    ) -> HTMLResponse:
        try:
            detail: CaseDetail = console.service.get_case(case_id, actor.moderator_id)
        except CaseNotFound:
            return console.error(request, "err_not_found", 404)
        lang = console.lang(request)

        def t(key: str, /, **values: Any) -> str:
            return console.texts.text(key, lang, **values)

        who = names()
        summary = detail.summary
        now = console.now()
        replied = any(e.kind == "reply_sent" for e in detail.events)
        done = request.query_params.get("done", "")
        return console.render(
            request,
            "case.html",
            actor=actor,
            detail=detail,
            case=summary,
            ack=acknowledge_clock(summary, now),
            feedback=feedback_clock(summary, now, replied=replied),
            events=timeline(detail.events, who, t),
            assignee=who.get(summary.assignee_id) if summary.assignee_id else None,
            moderators=[a for a in console.accounts.list_accounts() if a.active],
            transitions=[s for s in STATUSES if s in TRANSITIONS[summary.status]],
            error=error,
            done=_DONE.get(done),
            draft_note=draft_note,
            draft_reply=draft_reply,
            max_chars=MAX_TEXT_CHARS,
            status_code=status_code,
        )

    @router.get("/cases/{case_id}")
    def show_case(request: Request, case_id: int) -> HTMLResponse:
        actor = console.actor(request)
        return case_page(request, actor, case_id)

    @router.post("/cases/{case_id}/assign")
    def assign(
        request: Request,
        case_id: int,
        assignee: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        actor = console.actor(request)
        console.require_csrf(request, csrf)
        target: int | None
        if assignee == "me":
            target = actor.moderator_id
        elif assignee.isdigit():
            target = int(assignee)
        else:
            target = None
        try:
            console.service.assign(case_id, actor.moderator_id, target)
        except CaseNotFound:
            return console.error(request, "err_not_found", 404)
        except ModeratorNotFound:
            return case_page(request, actor, case_id, error="error_moderator", status_code=400)
        return redirect(f"{PREFIX}/cases/{case_id}?done=assigned")

    @router.post("/cases/{case_id}/status")
    def change_status(
        request: Request,
        case_id: int,
        status: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        actor = console.actor(request)
        console.require_csrf(request, csrf)
        try:
            console.service.change_status(case_id, actor.moderator_id, status)
        except CaseNotFound:
            return console.error(request, "err_not_found", 404)
        except (InvalidTransition, ValueError):
            return case_page(request, actor, case_id, error="error_transition", status_code=409)
        return redirect(f"{PREFIX}/cases/{case_id}?done=status")

    @router.post("/cases/{case_id}/note")
    def add_note(
        request: Request,
        case_id: int,
        text: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        actor = console.actor(request)
        console.require_csrf(request, csrf)
        try:
            console.service.add_note(case_id, actor.moderator_id, text)
        except CaseNotFound:
            return console.error(request, "err_not_found", 404)
        except ValueError:
            return case_page(request, actor, case_id, error="error_text", status_code=400,
                             draft_note=text)
        return redirect(f"{PREFIX}/cases/{case_id}?done=note")

    @router.post("/cases/{case_id}/reply")
    def reply(
        request: Request,
        case_id: int,
        text: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        actor = console.actor(request)
        console.require_csrf(request, csrf)
        try:
            console.service.reply(case_id, actor.moderator_id, text)
        except CaseNotFound:
            return console.error(request, "err_not_found", 404)
        except ContactNotAllowed:
            return case_page(request, actor, case_id, error="error_no_contact", status_code=409)
        except ValueError:
            return case_page(request, actor, case_id, error="error_text", status_code=400,
                             draft_reply=text)
        return redirect(f"{PREFIX}/cases/{case_id}?done=reply")
