"""Chinese numerals as used in article numbers (第一百零二条 → 102) and back."""

from __future__ import annotations

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
           "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_DIGIT_CHARS = "零一二三四五六七八九"


def chinese_to_int(text: str) -> int:
    """Convert a Chinese numeral below 10,000 to an integer.

    Handles the forms statutes use: 一, 十, 十二, 二十, 一百零二, 一百一十, 二千零五.

    Raises:
        ValueError: if ``text`` is empty or not a well-formed numeral.
    """
    if not text:
        raise ValueError("empty Chinese numeral")
    total = 0
    digit: int | None = None
    last_unit = 10_000
    for char in text:
        if char in _DIGITS:
            if digit is not None and digit != 0:
                raise ValueError(f"malformed Chinese numeral {text!r}: two digits in a row")
            digit = _DIGITS[char]
        elif char in _UNITS:
            unit = _UNITS[char]
            if unit >= last_unit:
                raise ValueError(f"malformed Chinese numeral {text!r}: units out of order")
            # A bare 十 at the start means 10 (十二 = 12).
            total += (1 if digit is None else digit) * unit
            digit = None
            last_unit = unit
        else:
            raise ValueError(f"malformed Chinese numeral {text!r}: unexpected {char!r}")
    if digit:
        total += digit
    if total == 0:
        raise ValueError(f"malformed Chinese numeral {text!r}: zero")
    return total


def int_to_chinese(number: int) -> str:
    """Convert 1..9999 to the form statutes use (102 → 一百零二, 12 → 十二).

    Raises:
        ValueError: outside 1..9999.
    """
    if not 1 <= number <= 9999:
        raise ValueError(f"number out of range 1..9999: {number}")
    parts: list[str] = []
    zero_pending = False
    for unit_value, unit_char in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = number // unit_value % 10
        if digit == 0:
            if parts:
                zero_pending = True
            continue
        if zero_pending:
            parts.append("零")
            zero_pending = False
        if not (unit_value == 10 and digit == 1 and not parts):
            parts.append(_DIGIT_CHARS[digit])
        parts.append(unit_char)
    return "".join(parts)
