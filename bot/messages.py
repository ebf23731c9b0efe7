"""Values that cross the channel boundary: an incoming Message and the Replies to it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Message:
    """One message from a worker, already stripped of its platform.

    Attributes:
        channel: ``"web"``, ``"terminal"``, ``"telegram"``, ``"wechat"``.
        user: the channel's native user id (chat id, OpenID, web session). The
            Assistant turns it into a pseudonym before storing or logging anything;
            it is needed only to reach the worker again through the outbox.
        text: what the worker wrote (or a button's ``value``).
        message_id: the channel's id for this delivery, for de-duplication;
            ``None`` when the channel has none.
    """

    channel: str
    user: str
    text: str
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class Button:
    """A choice offered to the worker; pressing it sends ``value`` as a message."""

    label: str
    value: str


@dataclass(frozen=True, slots=True)
class Citation:
    """The provision an answer relies on, e.g. ``CN-LCL:82``."""

    key: str
    title: str
    url: str = ""


@dataclass(frozen=True, slots=True)
class Reply:
    """One reply bubble: text, optional buttons and the citations behind it.

    ``expects_text`` marks a prompt whose answer is free text (the buttons are only
    shortcuts such as Skip): a channel that maps typed digits to buttons must not do so
    here, or a worker answering "2" to "how many workers?" would press a button.
    """

    text: str
    buttons: tuple[Button, ...] = field(default_factory=tuple)
    citations: tuple[Citation, ...] = field(default_factory=tuple)
    expects_text: bool = False

    def to_dict(self) -> dict[str, object]:
        """The JSON shape of ``POST /api/messages`` replies (kept stable)."""
        return {
            "text": self.text,
            "buttons": [{"label": b.label, "value": b.value} for b in self.buttons],
            "citations": [{"key": c.key, "title": c.title, "url": c.url} for c in self.citations],
        }
