"""The colloquial → legal synonym table and its use in retrieval."""

import pytest

from knowledge_base.errors import KnowledgeBaseError
from knowledge_base.synonyms import SynonymEntry, SynonymTable, default_synonyms


@pytest.fixture(scope="module")
def table() -> SynonymTable:
    return default_synonyms()


@pytest.mark.parametrize(
    ("question", "legal"),
    [
        ("老板三个月不发工资了", "拖欠劳动报酬"),
        ("厂里欠薪半年了", "拖欠劳动报酬"),
        ("我被炒鱿鱼了", "解除劳动合同"),
        ("今天被辞退了", "解除劳动合同"),
        ("下班路上被车撞了", "上下班途中"),
        ("老板扣了我的身份证", "居民身份证"),
        ("早上骑电动车去上班，路上被一辆小车刮倒了", "上下班途中"),
        ("我们天天996", "延长工作时间"),
        ("厂子关了，工资还没结", "劳动合同终止"),
        ("公司不给交社宝怎么办", "社会保险"),  # a pinyin-input slip for 社保
    ],
)
def test_issue_examples_reach_legal_terms(table, question, legal):
    assert legal in table.expand(question, "zh")


def test_closing_words_inside_other_phrases_call_for_nothing(table):
    # 不关厂里的事 ("none of the factory's business") and a dormitory that locks at ten
    # are not a factory closing down.
    for question in ("厂里说路上出的事不关厂里的事", "宿舍晚上十点就关门"):
        assert "劳动合同终止" not in table.expand(question, "zh"), question


def test_a_gap_in_a_chinese_word_allows_a_few_characters_between():
    # Workers put amounts and objects inside a verb phrase: 扣三天工资, 拖了三个月工资.
    table = SynonymTable({"zh": [SynonymEntry(("扣~工资",), ("扣除工资",))]})
    for question in ("扣工资", "请假一天扣三天工资", "扣了我200块工资"):
        assert table.expand(question, "zh") == ["扣除工资"], question
    # Not across punctuation or a space, and not over a longer stretch.
    for question in ("扣，工资", "扣 工资", "扣了一整个季度的奖金和工资"):
        assert table.expand(question, "zh") == [], question


@pytest.mark.parametrize(
    ("question", "legal"),
    [
        ("老板拖了三个月工资了", "拖欠劳动报酬"),
        ("请假一天扣三天工资合理吗", "扣除工资"),
        ("工伤能休多久 公司只给休一个月", "停工留薪期"),
        ("劳动仲载要钱吗", "劳动争议仲裁不收费"),  # 仲载: a pinyin slip for 仲裁
        ("被辞退了要多久之内去告", "仲裁时效"),
        ("受伤一年多了没报工伤 还来得及吗", "工伤认定申请"),
        ("我五十多岁了 公司说年纪大了让我走", "距法定退休年龄不足五年"),
    ],
)
def test_realistic_phrasings_reach_legal_terms(table, question, legal):
    assert legal in table.expand(question, "zh")


def test_context_words_are_required_when_given(table):
    assert "工伤保险待遇" not in table.expand("工伤认定要什么材料", "zh")
    assert "工伤保险待遇" in table.expand("工伤了老板怎么赔", "zh")


def test_english_matches_whole_words_only(table):
    assert "unlawful dismissal" in table.expand("I was FIRED yesterday", "en")
    assert "unlawful dismissal" not in table.expand("a fireduct in the hall", "en")


@pytest.mark.parametrize(
    "question", ["my boss does not pay my wages", "he doesn't pay us", "no salary for 2 months",
                 "he doesn\u2019t pay us"],  # a phone keyboard's apostrophe
)
def test_english_unpaid_wages_in_plain_words(table, question):
    assert "wage arrears" in table.expand(question, "en")


def test_no_terms_for_an_unknown_language_or_plain_question(table):
    assert table.expand("老板三个月不发工资了", "xx") == []
    assert table.expand("你好", "zh") == []


def test_each_term_once_in_table_order():
    table = SynonymTable({"zh": [SynonymEntry(("欠薪",), ("甲", "乙")),
                                 SynonymEntry(("老板",), ("乙", "丙"))]})
    assert table.expand("老板欠薪", "zh") == ["甲", "乙", "丙"]


def test_a_gap_at_the_end_of_a_word_is_named(tmp_path):
    path = tmp_path / "synonyms.yml"
    path.write_text("zh:\n  - words: [扣~]\n    legal: [扣除工资]\n", encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="zh entry #1: a gap"):
        SynonymTable.load(path)


def test_a_malformed_entry_is_named(tmp_path):
    path = tmp_path / "synonyms.yml"
    path.write_text("zh:\n  - words: [欠薪]\n", encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="zh entry #1"):
        SynonymTable.load(path)
    path.write_text("zh:\n  - words: [辞退]\n    legal: [12333]\n", encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="zh entry #1"):
        SynonymTable.load(path)


def test_the_bundled_table_loads_with_entries_for_zh_and_en(table):
    assert len(table.entries["zh"]) >= 50
    assert len(table.entries["en"]) >= 15


def test_input_slips_are_mended_before_matching(table):
    assert table.correct("公司不给交社宝怎么办", "zh") == "公司不给交社保怎么办"
    assert table.correct("没签和同，还能仲才吗", "zh") == "没签合同,还能仲裁吗"  # normalised
    assert table.expand("没签和同怎么办", "zh") == table.expand("没签合同怎么办", "zh")
    assert table.expand("仲才要钱吗", "zh") == table.expand("仲裁要钱吗", "zh")


def test_a_slip_is_never_mended_inside_a_right_word(table):
    for question in ("我和同事一起签了合同", "去工商局投诉老板", "劳动合同的使用期限"):
        assert table.correct(question, "zh") == question
    assert table.correct("使用期能定六个月吗", "zh") == "试用期能定六个月吗"


def test_a_question_without_slips_comes_back_unchanged(table):
    for question in ("ＡＢＣ公司拖欠工资", "My boss doesn't pay", ""):
        assert table.correct(question, "zh") == question
    assert table.correct("社宝", "en") == "社宝"


def test_the_longest_slip_is_mended_first():
    table = SynonymTable({}, {"zh": {"工商": "工商局", "算工商": "算工伤"}})
    assert table.correct("这算工商吗", "zh") == "这算工伤吗"


@pytest.mark.parametrize("slips", [
    "slips: [社宝]\n", "slips:\n  zh: [社宝]\n", "slips:\n  zh:\n    社宝: 社宝\n",
    "slips:\n  zh:\n    \"\": 社保\n", "slips:\n  zh:\n    社宝: 1\n",
])
def test_a_malformed_slips_section_is_named(tmp_path, slips):
    path = tmp_path / "synonyms.yml"
    path.write_text("zh:\n  - words: [欠薪]\n    legal: [拖欠]\n" + slips, encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="slips"):
        SynonymTable.load(path)


@pytest.mark.parametrize(
    ("question", "lang", "legal"),
    [
        ("Công ty nợ lương ba tháng rồi", "vi", "拖欠劳动报酬"),
        ("cong ty khong tra luong", "vi", "拖欠劳动报酬"),  # typed without tone marks
        ("Tan ca về bị xe tông, có tính tai nạn lao động không", "vi", "上下班途中"),
        ("Pabrik tidak bayar uang lembur", "id", "延长工作时间"),
        ("gajinya belum dibayar", "id", "拖欠劳动报酬"),  # gaji + the enclitic -nya
        ("KTP saya ditahan pabrik", "id", "居民身份证"),
        ("তিন মাস বেতন দেয়নি", "bn", "拖欠劳动报酬"),
        ("মাতৃত্বকালীন ছুটিতে বেতন পাবো?", "bn", "产假"),  # ছুটি with a case ending
        ("ក្រុមហ៊ុនមិនទាន់បើកប្រាក់ខែបីខែហើយ", "km", "拖欠劳动报酬"),
        ("သုံးလရှိပြီ လစာမပေးဘူး", "my", "拖欠劳动报酬"),
    ],
)
def test_bridges_lead_other_languages_to_the_chinese_legal_terms(table, question, lang, legal):
    terms = table.expand(question, lang)
    assert legal in terms, terms


def test_a_bridge_adds_the_chinese_word_then_its_legal_terms():
    table = SynonymTable(
        {"zh": [SynonymEntry(("欠工资",), ("拖欠劳动报酬",))]},
        bridges={"vi": {"欠工资": ["nợ lương"]}},
    )
    assert table.expand("Công ty nợ lương", "vi") == ["欠工资", "拖欠劳动报酬"]
    assert table.expand("Công ty nợ lương", "id") == []


def test_bridged_words_match_whole_words_only(table):
    # tăng ca is overtime; tăng cao ("rise high") is not. An agenda is no agent.
    assert "加班" not in table.expand("giá tăng cao quá", "vi")
    assert table.expand("agenda rapat besok", "id") == []
    # A Bengali word ending in a vowel sign still ends at a word boundary.
    assert "休息日" in table.expand("ছুটি কত দিন", "bn")


def test_two_bridged_words_never_make_a_chinese_gap_word_together():
    # 欠 and 工资 found apart must not read as 欠~工资 (欠 a few characters before 工资).
    table = SynonymTable(
        {"zh": [SynonymEntry(("欠~工资",), ("拖欠劳动报酬",))]},
        bridges={"vi": {"欠": ["nợ"], "工资": ["lương"]}},
    )
    assert table.expand("nợ ngân hàng, lương thấp", "vi") == ["欠", "工资"]


@pytest.mark.parametrize("bridges", [
    "bridges: [vi]\n", "bridges:\n  vi: [nợ lương]\n", "bridges:\n  vi:\n    欠工资: nợ lương\n",
    "bridges:\n  vi:\n    欠工资: []\n", "bridges:\n  vi:\n    欠工资: ['']\n",
    "bridges:\n  vi:\n    '': [nợ lương]\n", "bridges:\n  zh:\n    欠工资: [欠薪]\n",
    "bridges:\n  vi:\n    欠工资: [nợ~]\n",
])
def test_a_malformed_bridges_section_is_named(tmp_path, bridges):
    path = tmp_path / "synonyms.yml"
    path.write_text("zh:\n  - words: [欠薪]\n    legal: [拖欠]\n" + bridges, encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="bridges"):
        SynonymTable.load(path)


def test_the_bundled_bridges_cover_each_language_a_worker_may_write(table):
    assert set(table.bridges) == {"vi", "id", "bn", "km", "my"}
    assert all(len(words) >= 40 for words in table.bridges.values())


def test_khmer_and_burmese_words_match_with_or_without_spaces_between(table):
    # Burmese and Khmer writers put spaces between phrases, or inside them, as they like.
    assert table.expand("လစာ ဖြတ်တယ်", "my") == table.expand("လစာဖြတ်တယ်", "my")
    assert "扣工资" in table.expand("កាត់ ប្រាក់ខែ", "km")


def test_a_bridged_word_inside_an_unrelated_longer_word_is_left_alone(table):
    # ဖုန်း is a phone; ဖုန်, dust, is only listed inside longer words for that reason.
    assert table.bridge("ဖုန်းနဲ့ ဓာတ်ပုံရိုက်ထားတယ်", "my") == []


@pytest.mark.parametrize(("question", "lang", "not_meant"), [
    ("ចង់ដោះស្រាយតាមផ្លូវច្បាប់", "km", "下班路上"),       # by the legal route, not on the road
    ("អាយុអប្បបរមាប៉ុន្មាន", "km", "最低工资"),             # the minimum age, not the minimum wage
    ("ថតរូបហើយ ចង់ដាក់ពាក្យសុំឈប់", "km", "投诉"),          # a resignation letter, not a complaint
    ("Em làm kho, mỗi ngày soạn 200 kiện hàng", "vi", "起诉"),  # parcels, not a lawsuit
    ("ম্যানেজার খুব হয়রানি করে", "bn", "性骚扰"),             # harassment, not sexual
    ("এই শব্দের মানে কি", "bn", "粉尘 噪音 化学品"),             # a word, not noise
    ("၃၀ ရက်အတွင်း ပေးမယ်တဲ့", "my", "时效"),                 # within 30 days, no time limit
])
def test_a_bridged_word_with_another_everyday_meaning_is_left_out(
    table, question, lang, not_meant
):
    assert not_meant not in table.bridge(question, lang)
