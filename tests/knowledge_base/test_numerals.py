import pytest

from knowledge_base.numerals import chinese_to_int, int_to_chinese


@pytest.mark.parametrize(
    ("text", "number"),
    [("一", 1), ("十", 10), ("十二", 12), ("二十", 20), ("九十八", 98), ("一百", 100),
     ("一百零二", 102), ("一百一十", 110), ("一百一十九", 119), ("二千零五", 2005)],
)
def test_chinese_numerals_both_ways(text, number):
    assert chinese_to_int(text) == number
    assert int_to_chinese(number) == text


def test_round_trip_up_to_two_thousand():
    for number in range(1, 2001):
        assert chinese_to_int(int_to_chinese(number)) == number


@pytest.mark.parametrize("bad", ["", "零", "一二", "百十千", "十x", "二二十"])
def test_malformed_numerals_are_refused(bad):
    with pytest.raises(ValueError, match="Chinese numeral"):
        chinese_to_int(bad)


def test_out_of_range_is_refused():
    with pytest.raises(ValueError, match="out of range"):
        int_to_chinese(0)
