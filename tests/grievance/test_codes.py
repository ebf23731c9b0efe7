"""Receipt codes: format, entropy source, forgiving parsing, spotting, hashing."""

from __future__ import annotations

import re

import pytest

from grievance import codes
from grievance.codes import (
    ALPHABET,
    InvalidCode,
    find_code,
    hash_code,
    new_code,
    normalize_code,
    parse_code,
)

FORMAT = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$")


def test_alphabet_is_crockford():
    assert ALPHABET == "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    assert len(set(ALPHABET)) == 32


def test_new_code_format_and_uniqueness():
    made = {new_code() for _ in range(2000)}
    assert len(made) == 2000
    assert all(FORMAT.match(code) for code in made)


def test_new_code_uses_80_bits_from_secrets(monkeypatch):
    calls = []

    def fake_randbits(k):
        calls.append(k)
        return (1 << 80) - 1

    monkeypatch.setattr(codes.secrets, "randbits", fake_randbits)
    assert new_code() == "ZZZZ-ZZZZ-ZZZZ-ZZZZ"
    assert calls == [80]
    monkeypatch.setattr(codes.secrets, "randbits", lambda k: 0)
    assert new_code() == "0000-0000-0000-0000"
    monkeypatch.setattr(codes.secrets, "randbits", lambda k: 1)
    assert new_code() == "0000-0000-0000-0001"


def test_every_character_position_varies():
    seen = [set() for _ in range(16)]
    for _ in range(500):
        for i, ch in enumerate(new_code().replace("-", "")):
            seen[i].add(ch)
    assert all(len(s) > 20 for s in seen)


@pytest.mark.parametrize(
    "typed",
    [
        "7K4P-2M9Q-XR3T-8WJD",
        "7k4p-2m9q-xr3t-8wjd",
        "7K4P2M9QXR3T8WJD",
        " 7k4p 2m9q xr3t 8wjd ",
        "7K4P–2M9Q".replace("–", "-") + "XR3T8WJD",
        "7K4P_2M9Q.XR3T 8WJD",
    ],
)
def test_parse_accepts_case_and_separators(typed):
    assert parse_code(typed) == "7K4P-2M9Q-XR3T-8WJD"


def test_lookalikes_map_to_digits():
    assert parse_code("OOOO-IIII-LLLL-oilO") == "0000-1111-1111-0110"


@pytest.mark.parametrize(
    "bad",
    ["", "7K4P-2M9Q-XR3T", "7K4P-2M9Q-XR3T-8WJDX", "UUUU-2M9Q-XR3T-8WJD", "7K4P-2M9Q-XR3T-8WJ!"],
)
def test_parse_rejects_malformed(bad):
    with pytest.raises(InvalidCode):
        parse_code(bad)


def test_invalid_code_message_does_not_echo_the_code():
    with pytest.raises(InvalidCode) as excinfo:
        normalize_code("7K4P-2M9Q-XR3T-8WJU")
    assert "7K4P" not in str(excinfo.value) and "'U'" in str(excinfo.value)


def test_find_code_inside_a_message():
    assert find_code("my code is 7k4p 2m9q xr3t 8wjd, thanks") == "7K4P-2M9Q-XR3T-8WJD"
    assert find_code("回执码：7K4P-2M9Q-XR3T-8WJD") == "7K4P-2M9Q-XR3T-8WJD"
    assert find_code("7K4P2M9QXR3T8WJD") == "7K4P-2M9Q-XR3T-8WJD"
    assert find_code("how do I claim overtime pay for sundays") is None
    assert find_code("I love internationalism") is None  # 16 letters inside a sentence


def test_hash_is_deterministic_per_salt_and_ignores_spelling():
    salt = b"s" * 32
    a = hash_code("7K4P-2M9Q-XR3T-8WJD", salt, cost=codes.MIN_HASH_COST)
    assert a == hash_code("7k4p2m9qxr3t8wjd", salt, cost=codes.MIN_HASH_COST)
    assert a != hash_code("7K4P-2M9Q-XR3T-8WJD", b"t" * 32, cost=codes.MIN_HASH_COST)
    assert len(a) == 64 and "7K4P" not in a


@pytest.mark.parametrize("cost", [0, 512, 3000])
def test_hash_cost_must_be_a_power_of_two_above_the_minimum(cost):
    with pytest.raises(ValueError, match="power of two"):
        hash_code("7K4P-2M9Q-XR3T-8WJD", b"s" * 32, cost=cost)
