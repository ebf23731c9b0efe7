"""The report conversation: consent, what happened, details, confirmation, receipt code.

Steps (``flow_data["step"]``): ``consent`` → ``account`` → ``category`` → ``urgency`` →
``employer`` → ``location`` → ``workers`` → ``contact`` → ``confirm``. Everything the
worker has said lives in ``flow_data``, which the conversation store keeps encrypted in
the database, so a restart in the middle loses nothing. The case is saved only on
confirmation, and the receipt code is shown only after the save succeeded. "stop" at any
step discards everything unsaved.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.flows.base import Turn
from bot.flows.common import CancelWords, is_command, is_token, truncate
from bot.i18n import Catalogue
from bot.messages import Button, Reply
from grievance.codes import new_code
from grievance.errors import StorageUnavailable
from grievance.models import CATEGORIES, URGENCIES
from grievance.service import GrievanceService, NewReport

logger = logging.getLogger(__name__)

CONSENT = "consent"
ACCOUNT = "account"
CATEGORY = "category"
URGENCY = "urgency"
EMPLOYER = "employer"
LOCATION = "location"
WORKERS = "workers"
CONTACT = "contact"
CONFIRM = "confirm"

#: The optional free-text details, in the order they are asked, with their prompts.
_DETAILS = (
    (EMPLOYER, "report_ask_employer"),
    (LOCATION, "report_ask_location"),
    (WORKERS, "report_ask_workers"),
)

CANCEL = "report:cancel"
CONSENT_YES = "report:consent:yes"
DONE = "report:done"
SKIP = "report:skip"
SEND = "report:send"
CONTACT_YES = "report:contact:yes"
CONTACT_NO = "report:contact:no"
CATEGORY_PREFIX = "report:cat:"
URGENCY_PREFIX = "report:urg:"

#: Urgency when the worker skips the question.
DEFAULT_URGENCY = "ongoing"


class ReportFlow:
    """Takes a report step by step and opens a grievance case.

    Usage example::

        flow = ReportFlow(service, catalogue)
        replies = flow.start(turn)        # consent screen
        replies = flow.handle(turn)       # ... until the receipt code

    Args:
        service: opens the case.
        catalogue: every text shown to the worker.
        max_account_chars: longest account kept; longer text is cut with a note.
        max_field_chars: longest factory/place/number answer kept.
        summary_chars: how much of the account the confirmation summary repeats.
    """

    name = "report"

    def __init__(
        self,
        service: GrievanceService,
        catalogue: Catalogue,
        *,
        max_account_chars: int = 20_000,
        max_field_chars: int = 500,
        summary_chars: int = 300,
    ) -> None:
        for label, value in (
            ("max_account_chars", max_account_chars),
            ("max_field_chars", max_field_chars),
            ("summary_chars", summary_chars),
        ):
            if value < 1:
                raise ValueError(f"{label} must be >= 1, got {value}")
        self._service = service
        self._catalogue = catalogue
        self._is_cancel = CancelWords(catalogue)
        self._max_account = max_account_chars
        self._max_field = max_field_chars
        self._summary_chars = summary_chars

    # -- protocol ---------------------------------------------------------------------

    def start(self, turn: Turn) -> list[Reply]:
        """Show the consent screen; keep what the worker already wrote, if anything."""
        turn.state.flow = self.name
        data: dict[str, Any] = {"step": CONSENT, "account": ""}
        turn.state.flow_data = data
        text = turn.text
        if text and not is_command(text) and not is_token(text) and not self._is_cancel(text):
            # The message that led here is often the report itself: never make them retype.
            self._append_account(data, text)
        return [self._consent(turn.lang)]

    def handle(self, turn: Turn) -> list[Reply]:
        """Take the next message of the report."""
        data = turn.state.flow_data
        text, lang = turn.text, turn.lang
        if self._is_cancel(text):
            self._end(turn)
            return [Reply(self._t("report_cancelled", lang))]
        step = data.get("step", CONSENT)
        if step == CONSENT:
            return self._on_consent(turn)
        if step == ACCOUNT:
            return self._on_account(turn)
        if step == CATEGORY:
            return self._on_choice(turn, CATEGORY_PREFIX, CATEGORIES, "category", "other", URGENCY)
        if step == URGENCY:
            return self._on_choice(
                turn, URGENCY_PREFIX, URGENCIES, "urgency", DEFAULT_URGENCY, EMPLOYER
            )
        if step in (EMPLOYER, LOCATION, WORKERS):
            return self._on_detail(turn, step)
        if step == CONTACT:
            return self._on_contact(turn)
        if step == CONFIRM:
            return self._on_confirm(turn)
        # Unknown step (state from an older version): start over rather than trap them.
        return self.start(turn)

    # -- steps ------------------------------------------------------------------------

    def _on_consent(self, turn: Turn) -> list[Reply]:
        data, text = turn.state.flow_data, turn.text
        if text == CONSENT_YES:
            return self._goto(turn, ACCOUNT)
        if text and not is_command(text) and not is_token(text):
            # Writing straight away is consent enough: they have read the screen.
            replies = self._append_account(data, text, turn.lang)
            data["step"] = ACCOUNT
            return replies + [self._account_prompt(turn.lang, more=True)]
        return [self._consent(turn.lang)]

    def _on_account(self, turn: Turn) -> list[Reply]:
        data, text, lang = turn.state.flow_data, turn.text, turn.lang
        if text in (DONE, SKIP):
            return self._goto(turn, CATEGORY)
        if not text or is_command(text) or is_token(text):
            return [self._account_prompt(lang, more=bool(data.get("account")))]
        replies = self._append_account(data, text, lang)
        return replies + [self._account_prompt(lang, more=True)]

    def _on_choice(
        self,
        turn: Turn,
        prefix: str,
        allowed: tuple[str, ...],
        key: str,
        default: str,
        next_step: str,
    ) -> list[Reply]:
        data, text, lang = turn.state.flow_data, turn.text, turn.lang
        if text.startswith(prefix) and text[len(prefix) :] in allowed:
            data[key] = text[len(prefix) :]
        elif text == SKIP:
            data[key] = default
        else:
            return self._typed_instead(turn)
        replies = self._goto(turn, next_step)
        if key == "urgency" and data[key] == "danger_now":
            replies.insert(0, Reply(self._t("report_danger_hint", lang)))
        return replies

    def _on_detail(self, turn: Turn, step: str) -> list[Reply]:
        data, text = turn.state.flow_data, turn.text
        order = [name for name, _ in _DETAILS]
        next_step = order[order.index(step) + 1] if step != WORKERS else CONTACT
        if text == SKIP:
            data[step] = None
            return self._goto(turn, next_step)
        if not text or is_command(text) or is_token(text):
            return [self._prompt(step, turn.lang)]
        data[step], _ = truncate(text, self._max_field)
        return self._goto(turn, next_step)

    def _on_contact(self, turn: Turn) -> list[Reply]:
        data, text = turn.state.flow_data, turn.text
        if text in (CONTACT_YES, CONTACT_NO, SKIP):
            data["contact"] = text == CONTACT_YES
            return self._goto(turn, CONFIRM)
        return self._typed_instead(turn)

    def _on_confirm(self, turn: Turn) -> list[Reply]:
        data, text, lang = turn.state.flow_data, turn.text, turn.lang
        if text != SEND:
            if text and not is_command(text) and not is_token(text):
                replies = self._append_account(data, text, lang)
                return replies + [self._summary(turn)]
            return [self._summary(turn)]
        message = turn.message
        contact = bool(data.get("contact"))
        report = NewReport(
            category=data.get("category") or "other",
            urgency=data.get("urgency") or DEFAULT_URGENCY,
            account=data.get("account") or "",
            jurisdiction=turn.state.country,
            lang=lang,
            employer=data.get(EMPLOYER),
            location=data.get(LOCATION),
            workers_affected=data.get(WORKERS),
            contact_consent=contact,
            worker_ref=turn.state.user_ref,
            channel=message.channel if contact else None,
            chat_id=message.user if contact else None,
        )
        try:
            opened = self._service.open_case(report, receipt_code=data["code"])
        except StorageUnavailable:
            # Keep every word: the worker presses Send again once the database is back.
            return [Reply(self._t("report_save_failed", lang), buttons=self._confirm_buttons(lang))]
        logger.info(
            "report saved case=%s user=%s new=%s",
            opened.case_id,
            turn.state.user_ref,
            opened.created,
        )
        self._end(turn)
        return [
            Reply(self._t("report_saved", lang)),
            Reply(opened.receipt_code),
            Reply(self._t("report_next_steps", lang)),
        ]

    # -- helpers ----------------------------------------------------------------------

    def _t(self, key: str, lang: str, **values: Any) -> str:
        return self._catalogue.text(key, lang, **values)

    def _end(self, turn: Turn) -> None:
        turn.state.flow = None
        turn.state.flow_data = {}

    def _goto(self, turn: Turn, step: str) -> list[Reply]:
        data = turn.state.flow_data
        data["step"] = step
        if step == CONFIRM:
            # Made before the save so that a repeated "Send" finds the same case.
            data.setdefault("code", new_code())
            return [self._summary(turn)]
        return [self._prompt(step, turn.lang, more=bool(data.get("account")))]

    def _append_account(self, data: dict[str, Any], text: str, lang: str = "en") -> list[Reply]:
        current = data.get("account") or ""
        combined = f"{current}\n\n{text}" if current else text
        kept, cut = truncate(combined, self._max_account)
        data["account"] = kept
        if cut and not data.get("truncated"):
            data["truncated"] = True
            return [Reply(self._t("report_account_truncated", lang, limit=self._max_account))]
        return []

    def _typed_instead(self, turn: Turn) -> list[Reply]:
        """The worker typed where buttons were offered: keep the words, ask again."""
        data, text, lang = turn.state.flow_data, turn.text, turn.lang
        replies: list[Reply] = []
        if text and not is_command(text) and not is_token(text):
            replies = self._append_account(data, text, lang) or [
                Reply(self._t("report_added", lang))
            ]
        return replies + [self._prompt(data["step"], lang)]

    def _cancel_button(self, lang: str) -> Button:
        return Button(self._t("report_btn_cancel", lang), CANCEL)

    def _skip_button(self, lang: str) -> Button:
        return Button(self._t("report_btn_skip", lang), SKIP)

    def _consent(self, lang: str) -> Reply:
        return Reply(
            self._t("report_consent", lang),
            buttons=(
                Button(self._t("report_btn_start", lang), CONSENT_YES),
                self._cancel_button(lang),
            ),
        )

    def _account_prompt(self, lang: str, *, more: bool) -> Reply:
        key = "report_account_more" if more else "report_ask_account"
        return Reply(
            self._t(key, lang),
            buttons=(Button(self._t("report_btn_done", lang), DONE), self._cancel_button(lang)),
            expects_text=True,
        )

    def _prompt(self, step: str, lang: str, *, more: bool = False) -> Reply:
        if step == ACCOUNT:
            if more:
                return Reply(
                    self._t("report_account_kept", lang),
                    buttons=(
                        Button(self._t("report_btn_done", lang), DONE),
                        self._cancel_button(lang),
                    ),
                    expects_text=True,
                )
            return self._account_prompt(lang, more=False)
        if step == CATEGORY:
            buttons = tuple(
                Button(self._t(f"report_cat_{c}", lang), CATEGORY_PREFIX + c) for c in CATEGORIES
            )
            return Reply(
                self._t("report_ask_category", lang),
                buttons=(*buttons, self._skip_button(lang), self._cancel_button(lang)),
            )
        if step == URGENCY:
            buttons = tuple(
                Button(self._t(f"report_urgency_{u}", lang), URGENCY_PREFIX + u) for u in URGENCIES
            )
            return Reply(
                self._t("report_ask_urgency", lang),
                buttons=(*buttons, self._skip_button(lang), self._cancel_button(lang)),
            )
        for name, key in _DETAILS:
            if step == name:
                return Reply(
                    self._t(key, lang),
                    buttons=(self._skip_button(lang), self._cancel_button(lang)),
                    expects_text=True,
                )
        if step == CONTACT:
            return Reply(
                self._t("report_ask_contact", lang),
                buttons=(
                    Button(self._t("report_btn_yes", lang), CONTACT_YES),
                    Button(self._t("report_btn_no", lang), CONTACT_NO),
                    self._cancel_button(lang),
                ),
            )
        return self._consent(lang)

    def _confirm_buttons(self, lang: str) -> tuple[Button, ...]:
        return (Button(self._t("report_btn_send", lang), SEND), self._cancel_button(lang))

    def _summary(self, turn: Turn) -> Reply:
        data, lang = turn.state.flow_data, turn.lang
        missing = self._t("report_not_given", lang)
        account = data.get("account") or ""
        if len(account) > self._summary_chars:
            account = account[: self._summary_chars] + "…"
        category = data.get("category") or "other"
        urgency = data.get("urgency") or DEFAULT_URGENCY
        contact = "report_btn_yes" if data.get("contact") else "report_btn_no"
        text = self._t(
            "report_summary",
            lang,
            category=self._t(f"report_cat_{category}", lang),
            urgency=self._t(f"report_urgency_{urgency}", lang),
            employer=data.get(EMPLOYER) or missing,
            location=data.get(LOCATION) or missing,
            workers=data.get(WORKERS) or missing,
            contact=self._t(contact, lang),
            account=account or missing,
        )
        return Reply(text, buttons=self._confirm_buttons(lang))
