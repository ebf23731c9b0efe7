"""Replies as Telegram messages: cutting long texts, inline keyboards, callback data."""

from __future__ import annotations

import pytest

from bot.channels.telegram_render import MAX_TEXT, ButtonCodec, keyboard, render, split_text
from bot.messages import Button, Reply


def test_long_texts_are_split_at_paragraphs_within_the_limit():
    paragraphs = [f"第{n}段。" + "工资" * 300 for n in range(12)]
    text = "\n\n".join(paragraphs)
    chunks = split_text(text)
    assert len(chunks) > 1
    assert all(len(c) <= MAX_TEXT for c in chunks)
    for chunk in chunks:  # no paragraph is cut in two
        assert all(p in paragraphs for p in chunk.split("\n\n"))
    assert "\n\n".join(chunks) == text
    assert split_text("short") == ["short"]
    assert split_text("  \n\n ") == []


def test_unbroken_texts_are_cut_at_sentences_then_anywhere_counting_utf16():
    sentences = "老板拖欠工资三个月。" * 1000
    chunks = split_text(sentences)
    assert all(len(c) <= MAX_TEXT and c.endswith("。") for c in chunks)
    assert "".join(chunks) == sentences
    emoji = "👷" * 3000  # two UTF-16 units each: Telegram counts 6,000
    chunks = split_text(emoji)
    assert all(len(c.encode("utf-16-le")) // 2 <= MAX_TEXT for c in chunks)
    assert "".join(chunks) == emoji
    with pytest.raises(ValueError, match="limit"):
        split_text("x", limit=1)


def test_the_tail_of_a_cut_paragraph_shares_a_message_with_the_next():
    reply = Reply("x" * 5000 + "\n\n" + "y" * 100,
                  buttons=(Button("Report", "/report"), Button("Talk to a person", "/human")))
    messages = render(reply, ButtonCodec())
    assert [len(text) for text, _ in messages] == [MAX_TEXT, 5000 - MAX_TEXT + 2 + 100]
    assert [markup is None for _, markup in messages] == [True, False]  # keyboard last
    markup = messages[-1][1]
    assert markup is not None
    assert [[b.callback_data for b in row] for row in markup.inline_keyboard] == [
        ["/report"], ["/human"]]


def test_many_short_buttons_go_two_a_row():
    names = ("中文", "English", "Tiếng Việt", "বাংলা")
    languages = keyboard([Button(n, f"lang:{n}") for n in names], ButtonCodec())
    assert languages is not None
    assert [len(row) for row in languages.inline_keyboard] == [2, 2]
    assert keyboard([], ButtonCodec()) is None


def test_button_values_are_callback_data_and_long_ones_a_remembered_token():
    codec = ButtonCodec(capacity=2)
    assert codec.encode("report:cat:wages") == "report:cat:wages"
    long_value = "open:" + "x" * 80
    token = codec.encode(long_value)
    assert len(token.encode()) <= 64 and codec.decode(token) == long_value
    assert codec.decode(codec.encode("~tilde")) == "~tilde"  # never mistaken for a token
    codec.encode("open:" + "y" * 80)
    codec.encode("open:" + "z" * 80)
    assert codec.decode(token) is None  # forgotten: "this button no longer works"
    with pytest.raises(ValueError, match="capacity"):
        ButtonCodec(capacity=0)
