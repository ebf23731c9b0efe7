"""Length limits and numbered choices for WeChat text messages."""

from __future__ import annotations

import pytest

from bot.channels.wechat_render import ChoiceMemory, ReplyRenderer, pack, split_text, utf8_len
from bot.i18n import Catalogue
from bot.messages import Button, Citation, Reply


@pytest.fixture(scope="module")
def renderer() -> ReplyRenderer:
    return ReplyRenderer(Catalogue.load(), max_bytes=200)


def test_split_keeps_every_character_within_the_limit():
    text = "\n\n".join(["第一段。" * 20, "第二段，很长。" * 30, "x" * 500])
    pieces = split_text(text, 200)
    assert all(0 < utf8_len(p) <= 200 for p in pieces)
    assert "".join(pieces).replace("\n", "") == text.replace("\n", "")


def test_split_prefers_paragraphs_and_sentences():
    text = "A" * 90 + "\n\n" + "B" * 90
    assert split_text(text, 120) == ["A" * 90, "B" * 90]
    assert split_text("一句话。" * 30, 60)[0].endswith("。")


def test_split_never_cuts_a_multibyte_character():
    pieces = split_text("劳" * 1000, 200)
    assert all(utf8_len(p) <= 200 for p in pieces)
    assert "".join(pieces) == "劳" * 1000


def test_pack_joins_short_parts_and_keeps_order():
    assert pack(["a", "b", "c"], 100) == ["a\n\nb\n\nc"]
    messages = pack(["x" * 80, "y" * 80, "z" * 10], 100)
    assert messages == ["x" * 80, "y" * 80 + "\n\n" + "z" * 10]


def test_buttons_become_numbered_choices_across_replies(renderer):
    replies = [
        Reply(text="Answer", buttons=(Button("Show the law", "law:CN-LCL:82"),)),
        Reply(text="Report?", buttons=(Button("Report", "/report"), Button("Human", "/human"))),
    ]
    rendered = renderer.render(replies, "zh")
    joined = "\n\n".join(rendered.messages)
    assert "回复数字：" in joined
    assert "【1】Show the law" in joined and "【2】Report" in joined and "【3】Human" in joined
    assert rendered.choices == ("law:CN-LCL:82", "/report", "/human")
    assert renderer.render(replies, "en").messages[0].count("Reply with a number:") == 2


def test_citations_missing_from_the_text_are_added(renderer):
    reply = Reply(text="Body", citations=(Citation("CN-LCL:82", "Labour Contract Law art. 82"),))
    assert "Labour Contract Law art. 82" in renderer.render([reply], "en").messages[0]
    named = Reply(text="Body. Source: Labour Contract Law art. 82",
                  citations=(Citation("CN-LCL:82", "Labour Contract Law art. 82"),))
    assert renderer.render([named], "en").messages[0].count("art. 82") == 1


def test_choice_memory_maps_digits_back():
    memory = ChoiceMemory(ttl=60)
    memory.remember("u1", ["/report", "/human"])
    assert memory.resolve("u1", "2") == "/human"
    assert memory.resolve("u1", " １ ") == "/report"    # full-width digit
    assert memory.resolve("u1", "2。") == "/human"
    assert memory.resolve("u1", "二") == "/human"      # voice recognition writes numerals
    assert memory.resolve("u1", "3") is None            # out of range: plain text
    assert memory.resolve("u1", "12 hours") is None
    assert memory.resolve("u2", "1") is None            # another worker
    memory.remember("u1", [])                           # a reply without buttons
    assert memory.resolve("u1", "1") is None


def test_choice_memory_expires_and_is_bounded():
    now = [0.0]
    memory = ChoiceMemory(ttl=10, max_users=2, clock=lambda: now[0])
    memory.remember("a", ["x"])
    now[0] = 11
    assert memory.resolve("a", "1") is None
    memory.remember("a", ["x"])
    memory.remember("b", ["y"])
    memory.remember("c", ["z"])
    assert len(memory) == 2 and memory.resolve("a", "1") is None
    assert memory.resolve("c", "1") == "z"


def test_a_digit_answers_a_free_text_prompt_instead_of_pressing_a_button(renderer):
    """"How many workers?" answered "2" must not press Cancel (the second button)."""
    prompt = Reply(
        "大概有多少工人受影响？",
        buttons=(Button("跳过", "report:skip"), Button("取消", "report:cancel")),
        expects_text=True,
    )
    rendered = renderer.render([prompt], "zh")
    assert rendered.choices == ()
    assert "【跳过】" in rendered.messages[0]
    memory = ChoiceMemory(ttl=60)
    memory.remember("u", rendered.choices, rendered.words)
    assert memory.resolve("u", "2") is None
    assert memory.resolve("u", "跳过") == "report:skip"
    assert memory.resolve("u", "【取消】") == "report:cancel"
