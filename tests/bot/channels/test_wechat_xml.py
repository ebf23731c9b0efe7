"""Parsing WeChat XML safely, and building replies."""

from __future__ import annotations

import pytest

from bot.channels.wechat_xml import XmlError, cdata, element_text, parse_xml, text_reply_xml
from tests.bot.channels.wechat_fakes import event_xml, text_xml

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<xml><Content>&lol3;</Content></xml>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>a</ToUserName><Content>&xxe;</Content></xml>"""


def test_text_and_event_fields():
    message = parse_xml(text_xml("加班费怎么算", msg_id="42").encode())
    assert (message.msg_type, message.content, message.msg_id) == ("text", "加班费怎么算", "42")
    event = parse_xml(event_xml("CLICK", "/report").encode())
    assert (event.event, event.event_key, event.msg_id) == ("CLICK", "/report", "")


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY, b"<xml><a></xml>", b"",
                                  b"not xml", b"<root><Content>x</Content></root>"])
def test_refused(body):
    with pytest.raises(XmlError):
        parse_xml(body)


def test_size_cap():
    with pytest.raises(XmlError, match="over"):
        parse_xml(text_xml("x" * 70_000).encode())


def test_reply_escapes_cdata_end_and_control_characters():
    xml = text_reply_xml("o1", "gh_1", "a]]>b\x00c", 1)
    assert element_text(xml, "Content") == "a]]>bc"
    assert cdata("]]>") == "<![CDATA[]]]]><![CDATA[>]]>"
