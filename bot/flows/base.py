"""The protocol of a multi-step flow and the turn it is handed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.messages import Message, Reply
from grievance.conversations import ConversationState


@dataclass(slots=True)
class Turn:
    """One incoming message as a flow sees it.

    Attributes:
        message: the message as the channel delivered it (``message.user`` is the native
            id: store it only encrypted, and only when the worker agreed to be contacted).
        state: the worker's conversation state; the Assistant saves it after the flow returns.
        lang: the language to answer in.
        text: the message text, stripped.
    """

    message: Message
    state: ConversationState
    lang: str
    text: str


class Flow(Protocol):
    """A multi-step conversation that owns the dialogue while ``state.flow == name``.

    Usage example::

        replies = flow.start(turn)          # sets turn.state.flow = flow.name
        ...
        if turn.state.flow == flow.name:
            replies = flow.handle(turn)     # clears state.flow when finished or stopped
    """

    name: str

    def start(self, turn: Turn) -> list[Reply]:
        """Begin the flow for this worker."""
        ...

    def handle(self, turn: Turn) -> list[Reply]:
        """Take the next message of a flow in progress."""
        ...
