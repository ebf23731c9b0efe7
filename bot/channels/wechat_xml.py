"""WeChat message XML: safe parsing of what WeChat posts, and building passive replies.

Parsing goes through ``defusedxml`` with DTDs forbidden (WeChat never sends one), so
entity expansion ("billion laughs") and external references are refused before any
expansion happens; the caller caps the size before parsing.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # noqa: S405 - only for the ParseError type and Element
from dataclasses import dataclass

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

#: Bytes of XML accepted, before and after decryption; a WeChat message is ~1 KB.
MAX_XML_BYTES = 64 * 1024
#: Characters XML 1.0 cannot carry (control characters other than tab, LF, CR).
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class XmlError(ValueError):
    """The body is not a WeChat message: malformed, too big, or with a DTD or entities."""


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message or event WeChat posted, with only the fields the bot uses.

    Attributes:
        to_user: the account's original id (``gh_...``): the ``FromUserName`` of replies.
        from_user: the worker's OpenID (never logged, never stored in plaintext).
        create_time: WeChat's Unix time of the message, as sent.
        msg_type: ``text``, ``voice``, ``event``, ``image`` ...
        content: the text of a text message.
        recognition: WeChat's speech-to-text of a voice message (may be empty).
        msg_id: the message id (absent for events).
        event: the event name for ``msg_type == "event"`` (``subscribe``, ``CLICK`` ...).
        event_key: the menu key of a ``CLICK`` event (or ``qrscene_...`` of a subscribe).
        encrypted: the ``Encrypt`` field of a safe-mode envelope.
    """

    to_user: str = ""
    from_user: str = ""
    create_time: str = ""
    msg_type: str = ""
    content: str = ""
    recognition: str = ""
    msg_id: str = ""
    event: str = ""
    event_key: str = ""
    encrypted: str = ""


_FIELDS = {
    "ToUserName": "to_user",
    "FromUserName": "from_user",
    "CreateTime": "create_time",
    "MsgType": "msg_type",
    "Content": "content",
    "Recognition": "recognition",
    "MsgId": "msg_id",
    "Event": "event",
    "EventKey": "event_key",
    "Encrypt": "encrypted",
}


def parse_xml(data: bytes, max_bytes: int = MAX_XML_BYTES) -> Inbound:
    """Parse a WeChat message (plaintext, decrypted, or a safe-mode envelope).

    Args:
        data: the XML bytes.
        max_bytes: refuse anything longer.

    Raises:
        XmlError: too long, malformed, a DTD/entity/external reference, or no ``<xml>`` root.
    """
    if len(data) > max_bytes:
        raise XmlError(f"XML body over {max_bytes} bytes")
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise XmlError(f"refused XML construct: {type(exc).__name__}") from exc
    except ET.ParseError as exc:
        raise XmlError(f"malformed XML: {exc}") from exc
    if root.tag != "xml":
        raise XmlError(f"expected an <xml> root element, got <{root.tag[:40]}>")
    values: dict[str, str] = {}
    for child in root:
        name = _FIELDS.get(child.tag)
        if name is not None and name not in values:
            values[name] = (child.text or "").strip() if name != "content" else child.text or ""
    return Inbound(**values)


def cdata(text: str) -> str:
    """``text`` as CDATA, safe even if it contains ``]]>`` or invalid characters."""
    clean = _INVALID_XML.sub("", text)
    return "<![CDATA[" + clean.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply_xml(to_user: str, from_user: str, content: str, create_time: int) -> str:
    """The XML of a passive text reply.

    Args:
        to_user: the worker's OpenID (the inbound ``FromUserName``).
        from_user: the account id (the inbound ``ToUserName``).
        content: the reply text (already within WeChat's length limit).
        create_time: Unix time.
    """
    return (
        "<xml>"
        f"<ToUserName>{cdata(to_user)}</ToUserName>"
        f"<FromUserName>{cdata(from_user)}</FromUserName>"
        f"<CreateTime>{int(create_time)}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{cdata(content)}</Content>"
        "</xml>"
    )


def encrypted_reply_xml(encrypted: str, signature: str, timestamp: str, nonce: str) -> str:
    """The safe-mode envelope around an encrypted reply."""
    return (
        "<xml>"
        f"<Encrypt>{cdata(encrypted)}</Encrypt>"
        f"<MsgSignature>{cdata(signature)}</MsgSignature>"
        f"<TimeStamp>{int(timestamp)}</TimeStamp>"
        f"<Nonce>{cdata(nonce)}</Nonce>"
        "</xml>"
    )


def element_text(xml: str, tag: str) -> str | None:
    """The text of the first ``tag`` child of a reply (tests and the load script use it)."""
    root = fromstring(xml.encode("utf-8"), forbid_dtd=True)
    found: ET.Element | None = root.find(tag)
    return None if found is None else found.text
