"""The one list of legal instruments WorkRight cites, with their titles in every language.

A citation key is ``CODE:ARTICLE`` (``CN-LCL:82``, ``ILO-C029:2``, ``ETI-BASE:6``),
``CODE:annex`` for the annex after the last article (``CN-FEMALE:annex``, the list of work
women must not do), or a bare ``CODE`` when the whole instrument is meant. Articles of PRC
instruments whose official text ships in ``sources/cn/`` are checked against that text; the
others (ILO, ETI, the Criminal Law) are cited by article number from the fact sheet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from knowledge_base.numerals import int_to_chinese

FLK_URL = "https://flk.npc.gov.cn/"
ETI_URL = "https://www.ethicaltrade.org/eti-base-code"
NORMLEX_URL = "https://normlex.ilo.org/dyn/nrmlx_en/f?p=NORMLEXPUB:12100:0::NO::P12100_ILO_CODE:{code}"

#: The languages the assistant speaks, in order of priority.
LANGUAGES: tuple[str, ...] = ("zh", "en", "vi", "id", "bn", "km", "my")

#: Languages every answer card must be written in.
CARD_LANGUAGES: tuple[str, ...] = ("zh", "en")

#: The "article" part of the key of an annex (附录), which has no article number.
ANNEX = "annex"

_KEY_RE = re.compile(
    r"^(?P<code>[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*)(?::(?P<article>\d+(?:-\d+)?|" + ANNEX + r"))?$"
)


@dataclass(frozen=True, slots=True)
class Instrument:
    """A law, regulation, convention or code of conduct.

    Attributes:
        code: the citation code, e.g. ``CN-LCL``.
        jurisdiction: ``CN``, ``VN``, ... or ``INTL``.
        titles: the title by language; ``en`` and ``zh`` always present.
        short: a short name by language, used in citations (``劳动合同法``).
        url: where the official text is published.
        has_text: True when the official text ships in ``sources/`` (statute layer).
    """

    code: str
    jurisdiction: str
    titles: dict[str, str]
    short: dict[str, str] = field(default_factory=dict)
    url: str = ""
    has_text: bool = False

    def title(self, lang: str) -> str:
        """The title in ``lang``, falling back to English."""
        return self.titles.get(lang) or self.titles["en"]

    def short_title(self, lang: str) -> str:
        """The short name in ``lang``, falling back to the full title."""
        return self.short.get(lang) or self.short.get("en") or self.title(lang)


def _cn(code: str, zh: str, en: str, zh_short: str, en_short: str) -> Instrument:
    return Instrument(
        code=code,
        jurisdiction="CN",
        titles={"zh": zh, "en": en},
        short={"zh": zh_short, "en": en_short},
        url=FLK_URL,
        has_text=True,
    )


def _ilo(code: str, en: str, zh: str, en_short: str) -> Instrument:
    number = code.removeprefix("ILO-")
    return Instrument(
        code=code,
        jurisdiction="INTL",
        titles={"en": f"ILO {en}", "zh": f"国际劳工组织{zh}"},
        short={"en": f"ILO {en_short}", "zh": f"国际劳工组织{zh}"},
        url=NORMLEX_URL.format(code=number),
    )


_ALL: tuple[Instrument, ...] = (
    _cn("CN-LL", "中华人民共和国劳动法", "Labour Law of the PRC", "劳动法", "Labour Law"),
    _cn("CN-LCL", "中华人民共和国劳动合同法", "Labour Contract Law of the PRC",
        "劳动合同法", "Labour Contract Law"),
    _cn("CN-LCL-IR", "中华人民共和国劳动合同法实施条例",
        "Implementing Regulations of the Labour Contract Law",
        "劳动合同法实施条例", "Labour Contract Law Implementing Regulations"),
    _cn("CN-WORKHOURS", "国务院关于职工工作时间的规定",
        "State Council Provisions on Employees' Working Hours", "职工工作时间规定",
        "Working Hours Provisions"),
    _cn("CN-PAL", "职工带薪年休假条例", "Regulations on Paid Annual Leave for Employees",
        "带薪年休假条例", "Paid Annual Leave Regulations"),
    _cn("CN-PAL-IM", "企业职工带薪年休假实施办法",
        "Implementing Measures for Paid Annual Leave of Enterprise Employees",
        "年休假实施办法", "Paid Annual Leave Implementing Measures"),
    _cn("CN-HOLIDAYS", "全国年节及纪念日放假办法",
        "Measures on National Holidays and Commemoration Days", "年节及纪念日放假办法",
        "Public Holidays Measures"),
    _cn("CN-WAGECONV", "关于职工全年月平均工作时间和工资折算问题的通知",
        "Notice on Average Monthly Working Time and Wage Conversion",
        "工资折算通知", "Wage Conversion Notice"),
    _cn("CN-FEMALE", "女职工劳动保护特别规定",
        "Special Rules on the Labour Protection of Female Employees",
        "女职工劳动保护特别规定", "Female Employees Protection Rules"),
    _cn("CN-WIIR", "工伤保险条例", "Work-related Injury Insurance Regulations",
        "工伤保险条例", "Work Injury Insurance Regulations"),
    _cn("CN-WAGEPAY", "工资支付暂行规定", "Interim Provisions on the Payment of Wages",
        "工资支付暂行规定", "Wage Payment Provisions"),
    _cn("CN-MWPAY", "保障农民工工资支付条例",
        "Regulations on Guaranteeing Payment of Wages to Migrant Workers",
        "保障农民工工资支付条例", "Migrant Workers' Wage Payment Regulations"),
    _cn("CN-CHILD", "禁止使用童工规定", "Provisions on the Prohibition of Child Labour",
        "禁止使用童工规定", "Child Labour Provisions"),
    _cn("CN-LDMAL", "中华人民共和国劳动争议调解仲裁法",
        "Labour Dispute Mediation and Arbitration Law of the PRC",
        "劳动争议调解仲裁法", "Labour Dispute Mediation and Arbitration Law"),
    _cn("CN-LSI", "劳动保障监察条例", "Regulations on Labour Security Inspection",
        "劳动保障监察条例", "Labour Inspection Regulations"),
    _cn("CN-SIL", "中华人民共和国社会保险法", "Social Insurance Law of the PRC",
        "社会保险法", "Social Insurance Law"),
    _cn("CN-EPL", "中华人民共和国就业促进法", "Employment Promotion Law of the PRC",
        "就业促进法", "Employment Promotion Law"),
    _cn("CN-TUL", "中华人民共和国工会法", "Trade Union Law of the PRC", "工会法",
        "Trade Union Law"),
    _cn("CN-WSL", "中华人民共和国安全生产法", "Work Safety Law of the PRC", "安全生产法",
        "Work Safety Law"),
    _cn("CN-ODL", "中华人民共和国职业病防治法",
        "Law of the PRC on the Prevention and Control of Occupational Diseases",
        "职业病防治法", "Occupational Disease Law"),
    _cn("CN-WOMEN", "中华人民共和国妇女权益保障法",
        "Law of the PRC on the Protection of Women's Rights and Interests",
        "妇女权益保障法", "Women's Rights Law"),
    _cn("CN-SPC-LD1", "最高人民法院关于审理劳动争议案件适用法律问题的解释（一）",
        "Supreme People's Court Interpretation (I) on Labour Dispute Cases",
        "劳动争议司法解释（一）", "SPC Labour Dispute Interpretation (I)"),
    _cn("CN-SPC-WAGECRIME",
        "最高人民法院关于审理拒不支付劳动报酬刑事案件适用法律若干问题的解释",
        "Supreme People's Court Interpretation on Criminal Cases of Refusing to Pay Wages",
        "拒不支付劳动报酬刑事案件司法解释", "SPC Wage Crime Interpretation"),
    Instrument(
        code="CN-CRIM",
        jurisdiction="CN",
        titles={"zh": "中华人民共和国刑法", "en": "Criminal Law of the PRC"},
        short={"zh": "刑法", "en": "Criminal Law"},
        url=FLK_URL,
    ),
    _ilo("ILO-C001", "Hours of Work (Industry) Convention, 1919 (No. 1)",
         "1919年（工业）工时公约（第1号）", "C1 Hours of Work"),
    _ilo("ILO-C029", "Forced Labour Convention, 1930 (No. 29)", "1930年强迫劳动公约（第29号）",
         "C29 Forced Labour"),
    _ilo("ILO-P029", "Protocol of 2014 to the Forced Labour Convention, 1930",
         "1930年强迫劳动公约2014年议定书", "P29 Forced Labour Protocol"),
    _ilo("ILO-C087",
         "Freedom of Association and Protection of the Right to Organise Convention, 1948 (No. 87)",
         "1948年结社自由和保护组织权利公约（第87号）", "C87 Freedom of Association"),
    _ilo("ILO-C095", "Protection of Wages Convention, 1949 (No. 95)",
         "1949年保护工资公约（第95号）", "C95 Protection of Wages"),
    _ilo("ILO-C098", "Right to Organise and Collective Bargaining Convention, 1949 (No. 98)",
         "1949年组织权利和集体谈判权利公约（第98号）", "C98 Collective Bargaining"),
    _ilo("ILO-C100", "Equal Remuneration Convention, 1951 (No. 100)",
         "1951年同酬公约（第100号）", "C100 Equal Remuneration"),
    _ilo("ILO-C105", "Abolition of Forced Labour Convention, 1957 (No. 105)",
         "1957年废除强迫劳动公约（第105号）", "C105 Abolition of Forced Labour"),
    _ilo("ILO-C111", "Discrimination (Employment and Occupation) Convention, 1958 (No. 111)",
         "1958年（就业和职业）歧视公约（第111号）", "C111 Discrimination"),
    _ilo("ILO-C131", "Minimum Wage Fixing Convention, 1970 (No. 131)",
         "1970年确定最低工资公约（第131号）", "C131 Minimum Wage Fixing"),
    _ilo("ILO-C138", "Minimum Age Convention, 1973 (No. 138)", "1973年最低就业年龄公约（第138号）",
         "C138 Minimum Age"),
    _ilo("ILO-C155", "Occupational Safety and Health Convention, 1981 (No. 155)",
         "1981年职业安全和卫生公约（第155号）", "C155 Occupational Safety and Health"),
    _ilo("ILO-C182", "Worst Forms of Child Labour Convention, 1999 (No. 182)",
         "1999年最恶劣形式的童工劳动公约（第182号）", "C182 Worst Forms of Child Labour"),
    _ilo("ILO-C183", "Maternity Protection Convention, 2000 (No. 183)",
         "2000年保护生育公约（第183号）", "C183 Maternity Protection"),
    _ilo("ILO-C187",
         "Promotional Framework for Occupational Safety and Health Convention, 2006 (No. 187)",
         "2006年促进职业安全与卫生框架公约（第187号）", "C187 OSH Framework"),
    _ilo("ILO-C190", "Violence and Harassment Convention, 2019 (No. 190)",
         "2019年暴力和骚扰公约（第190号）", "C190 Violence and Harassment"),
    _ilo("ILO-R190", "Worst Forms of Child Labour Recommendation, 1999 (No. 190)",
         "1999年最恶劣形式的童工劳动建议书（第190号）", "R190 Worst Forms of Child Labour"),
    _ilo("ILO-R206", "Violence and Harassment Recommendation, 2019 (No. 206)",
         "2019年暴力和骚扰建议书（第206号）", "R206 Violence and Harassment"),
    Instrument(
        code="ETI-BASE",
        jurisdiction="INTL",
        titles={"en": "ETI Base Code", "zh": "道德贸易倡议（ETI）基本守则"},
        short={"en": "ETI Base Code", "zh": "ETI基本守则"},
        url=ETI_URL,
    ),
)

#: Instruments by code.
INSTRUMENTS: dict[str, Instrument] = {i.code: i for i in _ALL}


@dataclass(frozen=True, slots=True)
class CitationKey:
    """A parsed citation key: the instrument code and, optionally, the article.

    ``article`` is the article as written in the key (``"82"``, ``"44-1"``), or
    :data:`ANNEX` for the annex; never assume it is a number (see :attr:`is_annex`).
    """

    code: str
    article: str | None = None

    def __str__(self) -> str:
        return self.code if self.article is None else f"{self.code}:{self.article}"

    @property
    def instrument(self) -> Instrument:
        """The instrument this key cites."""
        return INSTRUMENTS[self.code]

    @property
    def is_annex(self) -> bool:
        """True for ``CODE:annex``: the annex, not a numbered article."""
        return self.article == ANNEX


def parse_key(key: str) -> CitationKey:
    """Parse ``CN-LCL:82`` into its parts.

    Raises:
        ValueError: if the key is malformed or names an unknown instrument.
    """
    match = _KEY_RE.match(key.strip())
    if match is None:
        raise ValueError(
            f"malformed citation key {key!r}: expected CODE, CODE:ARTICLE or CODE:{ANNEX}"
        )
    code = match["code"]
    if code not in INSTRUMENTS:
        raise ValueError(f"unknown instrument {code!r} in citation key {key!r}")
    return CitationKey(code=code, article=match["article"])


def cite_text(key: str, lang: str) -> str:
    """A human citation: ``《劳动合同法》第八十二条`` or ``Labour Contract Law art. 82``; for
    an annex ``《女职工劳动保护特别规定》附录`` or ``Female Employees Protection Rules annex``."""
    ck = parse_key(key)
    inst = ck.instrument
    if lang == "zh":
        name = f"《{inst.short_title('zh')}》"
        if ck.article is None:
            return name
        if ck.is_annex:
            return f"{name}附录"
        number, _, sub = ck.article.partition("-")
        article = f"第{int_to_chinese(int(number))}条"
        return f"{name}{article}之{int_to_chinese(int(sub))}" if sub else f"{name}{article}"
    name = inst.short_title(lang)
    if ck.article is None:
        return name
    if ck.is_annex:
        return f"{name} annex"
    if inst.code == "ETI-BASE":
        return f"{name} clause {ck.article}"
    return f"{name} art. {ck.article}"
