"""The status check: a receipt code shows the case's status and the NGO's replies.

``/status CODE`` or a message that is a code starts it. After the status the worker can
write more information, which is added to the same case, until "Done". The code is the
only credential: a wrong code always gets the same answer, and wrong codes are throttled
per worker by :class:`GrievanceService`.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.flows.base import Turn
from bot.flows.common import CancelWords, is_command, is_token, truncate
from bot.i18n import Catalogue
from bot.messages import Button, Reply
from grievance.codes import find_code
from grievance.errors import CaseNotFound, TooManyAttempts
from grievance.service import CaseStatusView, GrievanceService

logger = logging.getLogger(__name__)

ASK_CODE = "code"
ADDING = "adding"
DONE = "status:done"
CANCEL = "status:cancel"


def contains_receipt_code(text: str) -> bool:
    """True when ``text`` holds a receipt code (for the Assistant's ``is_receipt_code``)."""
    return find_code(text) is not None


class StatusFlow:
    """Shows a case's status by receipt code and takes additional information.

    Usage example::

        flow = StatusFlow(service, catalogue)
        replies = flow.start(turn)   # turn.text "/status 7K4P-..." or just the code

    Args:
        service: looks the code up (and throttles wrong codes).
        catalogue: every text shown to the worker.
        max_replies: how many of the latest moderator replies to show.
        max_message_chars: longest addition kept per message (longer is cut).
        max_misses: messages without a code before the flow gives up and lets go.
    """

    name = "status"

    def __init__(
        self,
        service: GrievanceService,
        catalogue: Catalogue,
        *,
        max_replies: int = 5,
        max_message_chars: int = 20_000,
        max_misses: int = 2,
    ) -> None:
        if max_replies < 1 or max_message_chars < 1 or max_misses < 1:
            raise ValueError(
                "max_replies, max_message_chars and max_misses must be >= 1, got "
                f"{max_replies}, {max_message_chars}, {max_misses}"
            )
        self._service = service
        self._catalogue = catalogue
        self._is_cancel = CancelWords(catalogue)
        self._max_replies = max_replies
        self._max_chars = max_message_chars
        self._max_misses = max_misses

    def start(self, turn: Turn) -> list[Reply]:
        """Check the code in ``turn.text``, or ask for one."""
        turn.state.flow = self.name
        turn.state.flow_data = {"step": ASK_CODE, "misses": 0}
        code = find_code(turn.text)
        if code is None:
            return [self._ask_code(turn.lang)]
        return self._check(turn, code)

    def handle(self, turn: Turn) -> list[Reply]:
        """Take a code, more information, or "Done"."""
        data, text, lang = turn.state.flow_data, turn.text, turn.lang
        if self._is_cancel(text) or text == DONE:
            self._end(turn)
            return [Reply(self._t("status_done", lang))]
        code = find_code(text)
        if code is not None:
            return self._check(turn, code)
        if data.get("step") == ADDING and data.get("code"):
            if not text or is_command(text) or is_token(text):
                return [self._add_prompt(lang)]
            return self._add(turn, data["code"], text)
        data["misses"] = int(data.get("misses", 0)) + 1
        if data["misses"] >= self._max_misses:
            # Do not trap a worker who meant something else: let the assistant have it.
            self._end(turn)
            return [Reply(self._t("status_wrong_code", lang))]
        return [Reply(self._t("status_wrong_code", lang)), self._ask_code(lang)]

    def _check(self, turn: Turn, code: str) -> list[Reply]:
        lang = turn.lang
        try:
            view = self._service.status_by_code(code, user_ref=turn.state.user_ref)
        except TooManyAttempts:
            logger.info("status throttled user=%s", turn.state.user_ref)
            self._end(turn)
            return [Reply(self._t("status_throttled", lang))]
        except CaseNotFound:
            data = turn.state.flow_data
            data["misses"] = int(data.get("misses", 0)) + 1
            if data["misses"] >= self._max_misses:
                self._end(turn)
                return [Reply(self._t("status_wrong_code", lang))]
            return [Reply(self._t("status_wrong_code", lang)), self._ask_code(lang)]
        turn.state.flow_data = {"step": ADDING, "code": code, "misses": 0}
        return self._render(view, lang) + [self._add_prompt(lang)]

    def _add(self, turn: Turn, code: str, text: str) -> list[Reply]:
        kept, _ = truncate(text, self._max_chars)
        try:
            self._service.add_worker_message(code, kept, user_ref=turn.state.user_ref)
        except (CaseNotFound, TooManyAttempts):
            # The case was purged or the worker is throttled meanwhile.
            self._end(turn)
            return [Reply(self._t("status_wrong_code", turn.lang))]
        return [Reply(self._t("status_added", turn.lang), buttons=self._buttons(turn.lang))]

    def _render(self, view: CaseStatusView, lang: str) -> list[Reply]:
        if view.withdrawn:
            status = self._t("status_withdrawn", lang)
        elif view.status == "new":
            status = self._t("status_new", lang, due=view.acknowledge_due.date().isoformat())
        else:
            status = self._t(f"status_{view.status}", lang)
        replies = [
            Reply(
                self._t(
                    "status_view",
                    lang,
                    category=self._t(f"report_cat_{view.category}", lang),
                    date=view.created_at.date().isoformat(),
                    status=status,
                )
            )
        ]
        for reply in view.replies[-self._max_replies :]:
            replies.append(
                Reply(
                    self._t("status_reply", lang, date=reply.at.date().isoformat(), text=reply.text)
                )
            )
        return replies

    def _t(self, key: str, lang: str, **values: Any) -> str:
        return self._catalogue.text(key, lang, **values)

    def _buttons(self, lang: str) -> tuple[Button, ...]:
        return (Button(self._t("report_btn_done", lang), DONE),)

    def _add_prompt(self, lang: str) -> Reply:
        return Reply(self._t("status_add_prompt", lang), buttons=self._buttons(lang))

    def _ask_code(self, lang: str) -> Reply:
        return Reply(
            self._t("status_ask_code", lang),
            buttons=(Button(self._t("report_btn_cancel", lang), CANCEL),),
        )

    def _end(self, turn: Turn) -> None:
        turn.state.flow = None
        turn.state.flow_data = {}
