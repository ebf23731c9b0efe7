"""The Assistant end to end on real parts: SQLite file, e5, the built index."""

from bot.messages import Message
from tests.conftest import make_settings


def ask(app, text, user="worker-1", message_id=None, channel="web"):
    return app.assistant.handle(Message(channel=channel, user=user, text=text,
                                        message_id=message_id))


def test_a_new_worker_is_welcomed_once_with_privacy_and_not_a_lawyer(app):
    first = ask(app, "你好")
    assert "隐私" in first[0].text and "不是律师" in first[0].text
    second = ask(app, "你好")
    assert all("不是律师" not in r.text for r in second)


def test_no_written_contract_is_answered_with_lcl_82_or_10(app):
    ask(app, "/start")
    ask(app, "country:CN")
    replies = ask(app, "公司不和我签劳动合同怎么办")
    cited = {c.key for r in replies for c in r.citations}
    assert cited & {"CN-LCL:82", "CN-LCL:10"}, [r.text for r in replies]
    answer = next(r for r in replies if r.citations)
    assert "劳动合同法" in answer.citations[0].title
    assert any(b.value.startswith("law:") for b in answer.buttons)


def test_the_commonest_question_is_answered_with_every_route_first(app):
    ask(app, "/start")
    ask(app, "country:CN")
    replies = ask(app, "老板不发工资怎么办")
    answer = next(r for r in replies if r.citations)
    assert "几条路" in answer.text and "CN-LCL:77" in {c.key for c in answer.citations}
    assert any(b.value == "more" for b in answer.buttons)


def test_without_the_second_encoder_the_same_question_is_still_answered(make_app, tmp_path):
    settings = make_settings(tmp_path)
    settings.kb.second_encoder = "none"
    app = make_app(settings)
    assert app.assistant.retriever.second is None
    ask(app, "/start")
    ask(app, "country:CN")
    replies = ask(app, "公司不和我签劳动合同怎么办")
    cited = {c.key for r in replies for c in r.citations}
    assert cited & {"CN-LCL:82", "CN-LCL:10"}, [r.text for r in replies]


def test_show_the_law_and_more_results(app):
    ask(app, "/start")
    replies = ask(app, "公司不和我签劳动合同怎么办")
    answer = next(r for r in replies if r.citations)
    law = ask(app, next(b.value for b in answer.buttons if b.value.startswith("law:")))
    assert "第" in law[0].text and law[0].citations
    more = ask(app, "more")
    assert more[0].buttons
    opened = ask(app, more[0].buttons[0].value)
    assert opened[0].citations


def test_redelivered_message_gets_one_answer(app):
    first = ask(app, "加班费怎么算", message_id="m-1")
    again = ask(app, "加班费怎么算", message_id="m-1")
    assert first and again == []


def test_language_choice_sticks(app):
    ask(app, "/start")
    assert "English" in ask(app, "lang:en")[0].text
    replies = ask(app, "加班费怎么算")
    assert all("加班" not in r.text.split("\n")[0] for r in replies if not r.citations)


def test_a_vietnamese_worker_gets_the_english_card_with_a_note(app):
    ask(app, "/start", user="vi-worker")
    ask(app, "lang:vi", user="vi-worker")
    replies = ask(app, "Nghỉ thai sản được bao nhiêu ngày?", user="vi-worker")
    answered = [r for r in replies if r.citations]
    # Answered, not "not sure": the bridges lead thai sản to 产假. The card is in English,
    # with one line (in Vietnamese) saying so.
    assert answered, [r.text for r in replies]
    assert "tiếng Anh" in answered[0].text
    assert any(c.key == "CN-FEMALE:7" for c in answered[0].citations)


def test_country_choice(app):
    assert "中国" in ask(app, "country:CN")[0].text or ask(app, "country:CN")
    reply = ask(app, "country:VN")[0]
    assert reply.text
    menu = ask(app, "country:XX")[0]
    assert menu.buttons


def test_bad_input_gets_a_clear_reply_and_never_an_exception(app):
    ask(app, "/start")
    cases = {
        "empty": "",
        "whitespace": "   \n\t  ",
        "huge": "工资" * 50_000,
        "binary": "\x00\x01\x02\xff\x00binary\x00" * 50,
        "emoji": "😡😡😡",
        "mixed": "my 老板 không trả lương 工资",
        "rtl": "صاحب العمل لم يدفع راتبي",
        "controls": "\u202e\u200b加班\u200f费",
        "garbage": "asdfghjkl",
    }
    for name, text in cases.items():
        replies = ask(app, text, message_id=f"bad-{name}")
        assert replies, name
        assert all(r.text.strip() for r in replies), name


def test_huge_question_is_searched_by_its_beginning(app):
    ask(app, "/start")
    replies = ask(app, "老板不给我加班费。" + "我每天加班到很晚。" * 3000)
    assert replies


def test_commands(app):
    for command in ["/start", "/help", "/language", "/country", "/human", "/nonsense"]:
        assert ask(app, command), command
    assert ask(app, "law:CN-LCL:999")[0].text
    assert ask(app, "open:nope")[0].text


def test_button_values_and_codes_do_not_change_the_language(app):
    ask(app, "/start", user="zh-worker")
    ask(app, "加班费怎么算", user="zh-worker")
    for text in ["report:urg:ongoing", "ABCD-EFGH-JKMN-PQRS", "ok", "lang"]:
        ask(app, text, user="zh-worker")
        state = app.store.load(app.vault.pseudonym("web", "zh-worker"), "web")
        assert state.lang == "zh", text


def test_a_stale_flow_button_starts_a_report_or_shows_help(app):
    ask(app, "/start")
    started = ask(app, "report:consent:yes")
    assert any(b.value.startswith("report:") for r in started for b in r.buttons)
    ask(app, "report:cancel")
    assert ask(app, "status:done")[0].buttons


def test_danger_written_inside_a_report_brings_emergency_numbers_first(app):
    ask(app, "/start", user="in-report")
    ask(app, "/report", user="in-report")
    ask(app, "report:consent:yes", user="in-report")
    replies = ask(app, "他们把我们锁在宿舍里，不让出去，还打我", user="in-report")
    assert "110" in replies[0].text
    assert len(replies) >= 2  # the report flow still took the message
