"""YAML 1.1 scalars: the implicit types of plain words, and the ones that surprise. Pure.

`010` is 8 and `1:30` is 90 in YAML 1.1; the value is kept and a warning says how to write it.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

YAML_TAG = "tag:yaml.org,2002:"
STR_TAG, _INT, _FLOAT, _BOOL, _NULL, _MERGE, _VALUE, _TIMESTAMP = (
    YAML_TAG + t for t in ("str", "int", "float", "bool", "null", "merge", "value", "timestamp")
)
SCALAR_TAGS = frozenset({STR_TAG, _INT, _FLOAT, _BOOL, _NULL})
_OCTAL = re.compile(r"[-+]?0[0-7_]+")
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
#: YAML 1.1 implicit types of plain scalars, without timestamps (they stay text as written).
_RESOLVERS: dict[str, list[tuple[str, re.Pattern[str]]]] = {
    first: [(tag, rx) for tag, rx in rules if tag != _TIMESTAMP]
    for first, rules in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
    if first is not None
}


def shorten_tag(tag: str) -> str:
    """tag:yaml.org,2002:int → !!int."""
    return "!!" + tag[len(YAML_TAG) :] if tag.startswith(YAML_TAG) else tag


def construct(tag: str, text: str) -> Any:
    """A scalar's value under a tag; ValueError or YAMLError when the text does not fit it."""
    node = yaml.ScalarNode(tag, text)
    if tag == _INT:
        return _CONSTRUCTOR.construct_yaml_int(node)
    if tag == _FLOAT:
        return _CONSTRUCTOR.construct_yaml_float(node)
    if tag == _BOOL:
        if text.lower() not in ("yes", "no", "true", "false", "on", "off"):
            raise ValueError(text)
        return _CONSTRUCTOR.construct_yaml_bool(node)
    if tag == _NULL:
        return None
    return text


def resolve_plain(text: str) -> tuple[Any, str | None]:
    """A plain scalar's YAML 1.1 value, and a warning when 1.1 reads it surprisingly."""
    for tag, pattern in _RESOLVERS.get(text[:1], ()):
        if not pattern.match(text):
            continue
        if tag in (_MERGE, _VALUE):
            return text, None
        value = construct(tag, text)
        if tag == _INT and _OCTAL.fullmatch(text):
            return value, (
                f"{text} is read as the octal number {value} by YAML 1.1; "
                f'write {int(text.replace("_", ""))} or quote it ("{text}") if it is text'
            )
        if tag in (_INT, _FLOAT) and ":" in text:
            return value, (
                f"{text} is read as the base-60 number {value} by YAML 1.1; "
                f'quote it ("{text}") if it is text'
            )
        return value, None
    return text, None


def tag_message(tag: str) -> str:
    """Why a tag is refused, and what to do."""
    return f"the tag {shorten_tag(tag)} is not allowed; specs are plain YAML data, remove it"
