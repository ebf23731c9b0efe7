"""``/delete``: the worker erases their contact details and conversation, and may withdraw.

Two choices after a confirmation screen: erase contact details and the conversation (the
reports stay, detached from the worker, so the NGO can still act), or also withdraw the
reports (their text is deleted). Cases are handled first, then the conversation, and the
state is marked ``erased`` so the Assistant does not store it again.
"""

from __future__ import annotations

import logging

from bot.flows.base import Turn
from bot.flows.common import CancelWords
from bot.i18n import Catalogue
from bot.messages import Button, Reply
from grievance.conversations import ConversationStore
from grievance.service import GrievanceService

logger = logging.getLogger(__name__)

ERASE = "delete:erase"
WITHDRAW = "delete:withdraw"
CANCEL = "delete:cancel"


class DeleteFlow:
    """Confirms, then erases the worker's data (``GrievanceService.erase_worker`` + ``forget``).

    Usage example::

        flow = DeleteFlow(service, store, catalogue)
        flow.start(turn)              # the two choices and Cancel
        flow.handle(turn)             # turn.text == "delete:erase" or "delete:withdraw"

    Args:
        service: detaches (or withdraws) the worker's cases.
        store: erases the conversation state and delivery records.
        catalogue: every text shown to the worker.
    """

    name = "delete"

    def __init__(
        self, service: GrievanceService, store: ConversationStore, catalogue: Catalogue
    ) -> None:
        self._service = service
        self._store = store
        self._catalogue = catalogue
        self._is_cancel = CancelWords(catalogue)

    def start(self, turn: Turn) -> list[Reply]:
        """Explain the two choices."""
        turn.state.flow = self.name
        turn.state.flow_data = {"step": "confirm"}
        lang = turn.lang
        return [
            Reply(
                self._catalogue.text("delete_confirm", lang),
                buttons=(
                    Button(self._catalogue.text("delete_btn_erase", lang), ERASE),
                    Button(self._catalogue.text("delete_btn_withdraw", lang), WITHDRAW),
                    Button(self._catalogue.text("report_btn_cancel", lang), CANCEL),
                ),
            )
        ]

    def handle(self, turn: Turn) -> list[Reply]:
        """Erase on one of the two choices; anything else cancels (erasing needs a press)."""
        text, lang, state = turn.text, turn.lang, turn.state
        if text not in (ERASE, WITHDRAW) or self._is_cancel(text):
            state.flow, state.flow_data = None, {}
            return [Reply(self._catalogue.text("delete_cancelled", lang))]
        withdraw = text == WITHDRAW
        # Cases first: if this fails nothing is erased and the worker can press again.
        result = self._service.erase_worker(state.user_ref, withdraw=withdraw)
        self._store.forget(state.user_ref)
        # No user_ref here: the log should not tie the erased worker to this moment.
        logger.info("worker data erased cases=%d withdraw=%s", result.cases_detached, withdraw)
        state.flow, state.flow_data, state.last_results = None, {}, []
        state.erased = True
        key = "delete_done_withdraw" if withdraw else "delete_done_erase"
        return [Reply(self._catalogue.text(key, lang))]
