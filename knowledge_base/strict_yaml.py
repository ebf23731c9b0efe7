"""YAML with duplicate keys refused.

PyYAML keeps the last of two equal keys in a mapping and says nothing, so a second
``职业病:`` in a language's bridges, or a second ``text:`` in a card, silently drops the
first. The hand-written source files are read with :func:`load`, which names the line.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a mapping with two equal keys."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ConstructorError(
                "while reading a mapping", node.start_mark,
                f"the key {key!r} appears twice", key_node.start_mark,
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load(text: str) -> Any:
    """Parse ``text`` like ``yaml.safe_load``.

    Raises:
        yaml.YAMLError: the text is not YAML, or a mapping has a key twice (with its line).
    """
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
