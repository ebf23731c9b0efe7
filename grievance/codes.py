"""Receipt codes: the worker's only credential for a case.

A code is 80 random bits written as four groups of four characters from Crockford's
base32 alphabet (``7K4P-2M9Q-XR3T-8WJD``). Workers copy codes by hand, so parsing is
forgiving: any case, with or without hyphens or spaces, and Crockford's look-alikes
(``O`` -> ``0``, ``I``/``L`` -> ``1``). The database keeps only a slow keyed hash
(scrypt), never the code itself.
"""

from __future__ import annotations

import hashlib
import re
import secrets

#: Crockford's base32 alphabet: digits and letters without I, L, O, U.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

#: Characters in a code, and bits of entropy (5 per character).
CODE_LENGTH = 16
CODE_BITS = CODE_LENGTH * 5

#: scrypt cost used in production; tests may lower it (never below MIN_HASH_COST).
DEFAULT_HASH_COST = 2**14
MIN_HASH_COST = 2**10

_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = re.compile(r"[\s\-_.]+")
_CHAR = "[0-9A-Za-z]"  # checked against ALPHABET after normalising
_SEP = r"[ \-]"
#: Spots a grouped code inside a longer message (``"my code is 7k4p 2m9q xr3t 8wjd"``).
#: An ungrouped code counts only as the whole message: inside a sentence, 16 letters in a
#: row are more often a long word than a code.
CODE_PATTERN = re.compile(
    rf"(?<![0-9A-Za-z])({_CHAR}{{4}}{_SEP}{_CHAR}{{4}}{_SEP}{_CHAR}{{4}}{_SEP}{_CHAR}{{4}})"
    r"(?![0-9A-Za-z])"
)


class InvalidCode(ValueError):
    """The text is not a well-formed receipt code."""


def new_code() -> str:
    """A fresh receipt code: 80 bits from :mod:`secrets`, formatted ``XXXX-XXXX-XXXX-XXXX``."""
    value = secrets.randbits(CODE_BITS)
    chars = []
    for _ in range(CODE_LENGTH):
        chars.append(ALPHABET[value & 31])
        value >>= 5
    return format_code("".join(reversed(chars)))


def format_code(normalized: str) -> str:
    """Group 16 normalised characters as ``XXXX-XXXX-XXXX-XXXX``."""
    return "-".join(normalized[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def normalize_code(text: str) -> str:
    """The 16 canonical characters of a code typed by a worker.

    Args:
        text: the code in any case, with or without hyphens/spaces; ``O``, ``I`` and ``L``
            are read as ``0``, ``1`` and ``1``.

    Returns:
        Sixteen upper-case characters of :data:`ALPHABET`.

    Raises:
        InvalidCode: if the text does not hold exactly 16 alphabet characters.
    """
    compact = _SEPARATORS.sub("", text.strip()).upper().translate(_LOOKALIKES)
    if len(compact) != CODE_LENGTH:
        raise InvalidCode(f"a receipt code has {CODE_LENGTH} characters, got {len(compact)}")
    bad = sorted({c for c in compact if c not in ALPHABET})
    if bad:
        # Never echo the code itself: only which characters are outside the alphabet.
        raise InvalidCode(f"characters outside Crockford's base32: {''.join(bad)!r}")
    return compact


def parse_code(text: str) -> str:
    """Normalise and re-format a typed code (``7k4p2m9qxr3t8wjd`` -> ``7K4P-2M9Q-XR3T-8WJD``).

    Raises:
        InvalidCode: as :func:`normalize_code`.
    """
    return format_code(normalize_code(text))


def find_code(text: str) -> str | None:
    """The code in ``text`` (formatted), or None.

    The whole message may be a code in any accepted form; inside a longer message only a
    grouped code (``XXXX-XXXX-XXXX-XXXX`` or with spaces) is recognised.
    """
    try:
        return parse_code(text)
    except InvalidCode:
        pass
    for match in CODE_PATTERN.finditer(text):
        try:
            return parse_code(match.group(1))
        except InvalidCode:
            continue
    return None


def hash_code(code: str, salt: bytes, *, cost: int = DEFAULT_HASH_COST) -> str:
    """The stored form of a code: scrypt(normalised code, deployment salt), hex.

    The salt is one per deployment (derived from the master key), so a code can be looked
    up by its hash; scrypt makes each guess cost memory and time.

    Args:
        code: the code as typed or formatted.
        salt: the deployment-wide salt (``vault.subkey("receipt-code")``).
        cost: the scrypt ``n`` parameter, a power of two >= :data:`MIN_HASH_COST`.

    Raises:
        InvalidCode: if ``code`` is malformed.
        ValueError: if ``cost`` is too small or not a power of two.
    """
    check_cost(cost)
    digest = hashlib.scrypt(
        normalize_code(code).encode("ascii"), salt=salt, n=cost, r=8, p=1, dklen=32
    )
    return digest.hex()


def check_cost(cost: int) -> None:
    """Refuse an scrypt cost that is not a power of two >= :data:`MIN_HASH_COST`."""
    if cost < MIN_HASH_COST or cost & (cost - 1):
        raise ValueError(f"scrypt cost must be a power of two >= {MIN_HASH_COST}, got {cost}")
