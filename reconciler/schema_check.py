"""A fast yes-or-ask check of the spec's JSON Schemas, so that a valid spec needs no jsonschema.

Pure. `compile_check(node, root)` turns a schema into a function that answers True only when
jsonschema (draft 2020-12, integers as ints only: `spec_validator_class`) would find the
instance valid, and False when it would not, or when this module is not sure (a `multipleOf`
of a float, a value of a type JSON has not): the caller then asks jsonschema, which also
words what is wrong. None: the schema uses a keyword this module does not know. `Validator`
puts the two together; jsonschema is imported by the first value the fast check does not pass.

Why (issue 11): importing jsonschema (referencing, attrs, rpds, its format and
specification modules) took 56-68 ms of a 10,000-cluster `reconciler plan`, whose CPU is its
wall once the API answers fast; every spec that is valid paid it for no message. The checks
follow jsonschema's own keyword functions (`jsonschema._keywords`, `_utils.equal`); a
hypothesis test compares the two on generated specs.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

Check = Callable[[Any], bool]

#: Keywords that say nothing about validity (jsonschema asserts `format` only when given a
#: format checker, which the spec's validators are not).
_ANNOTATIONS = frozenset(
    {
        "$schema",
        "$comment",
        "$defs",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "format",
        "errorMessage",
        "patternErrorMessage",
    }
)
_JSON_TYPES = (dict, list, str, int, float, bool, type(None))


class _Unknown(Exception):
    """The schema uses what this module does not check: no fast check at all."""


class _Unsure(Exception):
    """This instance needs jsonschema's own answer."""


def compile_check(node: Any, root: Mapping[str, Any]) -> Check | None:
    """The fast check of `node` (`$ref`s resolved in `root`), or None (see the module)."""
    try:
        check = _compile(node, root, {})
    except _Unknown:
        return None

    def passes(instance: Any) -> bool:
        try:
            return check(instance)
        except (_Unsure, RecursionError):
            return False

    return passes


def _is_number(value: Any) -> bool:
    if type(value) in (int, float):
        return True
    if type(value) not in _JSON_TYPES:
        raise _Unsure
    return False


_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": _is_number,
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _compile(node: Any, root: Mapping[str, Any], refs: dict[str, Check]) -> Check:
    if node is True:
        return lambda _value: True
    if node is False:
        return lambda _value: False
    if not isinstance(node, dict):
        raise _Unknown
    checks = [_keyword(key, value, node, root, refs) for key, value in node.items()]
    found = [c for c in checks if c is not None]
    if len(found) == 1:
        return found[0]
    return lambda value: all(check(value) for check in found)


def _keyword(
    key: str, arg: Any, node: Mapping[str, Any], root: Mapping[str, Any], refs: dict[str, Check]
) -> Check | None:
    if key in _ANNOTATIONS or (key in ("then", "else") and "if" in node):
        return None
    family = _FAMILIES.get(key)
    if family is None:
        raise _Unknown
    return family(key, arg, node, root, refs)


def _value_keyword(
    key: str, arg: Any, _node: Mapping[str, Any], root: Mapping[str, Any], refs: dict[str, Check]
) -> Check:
    if key == "type":
        return _type(arg)
    if key == "enum":
        return lambda value: any(equal(each, value) for each in arg)
    if key == "const":
        return lambda value: equal(value, arg)
    return _ref(arg, root, refs)


def _type(arg: Any) -> Check:
    names = arg if isinstance(arg, list) else [arg]
    if not all(isinstance(n, str) and n in _TYPES for n in names):
        raise _Unknown
    tests = [_TYPES[n] for n in names]
    return tests[0] if len(tests) == 1 else lambda value: any(t(value) for t in tests)


def _object_keyword(
    key: str, arg: Any, node: Mapping[str, Any], root: Mapping[str, Any], refs: dict[str, Check]
) -> Check:
    if key == "required":
        return lambda value: not isinstance(value, dict) or all(k in value for k in arg)
    if key == "dependentRequired":
        pairs = list(arg.items())
        return lambda value: (
            not isinstance(value, dict)
            or all(all(d in value for d in deps) for prop, deps in pairs if prop in value)
        )
    if key == "properties":
        each = [(name, _compile(sub, root, refs)) for name, sub in arg.items()]
        return lambda value: (
            not isinstance(value, dict)
            or all(check(value[name]) for name, check in each if name in value)
        )
    if "patternProperties" in node:
        raise _Unknown
    known = frozenset(node.get("properties", {}))
    if arg is False:
        return lambda value: not isinstance(value, dict) or known.issuperset(value)
    extra = _compile(arg, root, refs)
    return lambda value: (
        not isinstance(value, dict) or all(extra(v) for k, v in value.items() if k not in known)
    )


def _string_keyword(key: str, arg: Any, *_context: Any) -> Check:
    if key == "pattern":
        search = re.compile(arg).search
        return lambda value: not isinstance(value, str) or search(value) is not None
    if key == "minLength":
        return lambda value: not isinstance(value, str) or len(value) >= arg
    return lambda value: not isinstance(value, str) or len(value) <= arg


def _number_keyword(key: str, arg: Any, *_context: Any) -> Check:
    if key == "multipleOf":
        if type(arg) is not int:
            raise _Unknown

        def multiple(value: Any) -> bool:
            if not _is_number(value):
                return True
            if type(value) is not int:
                raise _Unsure  # jsonschema divides floats its own way
            return value % arg == 0

        return multiple
    compare: dict[str, Callable[[Any], bool]] = {
        "minimum": lambda v: v >= arg,
        "maximum": lambda v: v <= arg,
        "exclusiveMinimum": lambda v: v > arg,
        "exclusiveMaximum": lambda v: v < arg,
    }
    within = compare[key]
    return lambda value: not _is_number(value) or within(value)


def _array_keyword(
    key: str, arg: Any, _node: Mapping[str, Any], root: Mapping[str, Any], refs: dict[str, Check]
) -> Check:
    if key == "items":
        each = _compile(arg, root, refs)
        return lambda value: not isinstance(value, list) or all(each(v) for v in value)
    if not arg:
        return lambda _value: True

    def unique(value: Any) -> bool:
        if not isinstance(value, list):
            return True
        if not all(isinstance(v, str) for v in value):
            raise _Unsure  # jsonschema's `uniq` has its own ways with other values
        return len(set(value)) == len(value)

    return unique


def _logic(
    key: str, arg: Any, node: Mapping[str, Any], root: Mapping[str, Any], refs: dict[str, Check]
) -> Check:
    if key == "not":
        inner = _compile(arg, root, refs)
        return lambda value: not inner(value)
    if key == "if":
        test = _compile(arg, root, refs)
        then = _compile(node.get("then", True), root, refs)
        other = _compile(node.get("else", True), root, refs)
        return lambda value: then(value) if test(value) else other(value)
    if not isinstance(arg, list) or not arg:
        raise _Unknown
    parts = [_compile(sub, root, refs) for sub in arg]
    if key == "allOf":
        return lambda value: all(p(value) for p in parts)
    if key == "anyOf":
        return lambda value: any(p(value) for p in parts)
    return lambda value: sum(1 for p in parts if p(value)) == 1


def _ref(arg: Any, root: Mapping[str, Any], refs: dict[str, Check]) -> Check:
    """A local `#/$defs/name` reference; compiled once, looked up when it runs (recursion)."""
    if not isinstance(arg, str) or not arg.startswith("#/$defs/"):
        raise _Unknown
    name = arg.removeprefix("#/$defs/")
    target = root.get("$defs", {}).get(name)
    if "/" in name or target is None:
        raise _Unknown
    if arg not in refs:
        refs[arg] = lambda value: refs[arg](value)  # a reference to itself, until compiled
        refs[arg] = _compile(target, root, refs)
    return lambda value: refs[arg](value)


_Family = Callable[[str, Any, Mapping[str, Any], Mapping[str, Any], dict[str, Check]], Check]
_FAMILIES: dict[str, _Family] = {
    **dict.fromkeys(("type", "enum", "const", "$ref"), _value_keyword),
    **dict.fromkeys(
        ("properties", "additionalProperties", "required", "dependentRequired"), _object_keyword
    ),
    **dict.fromkeys(("minLength", "maxLength", "pattern"), _string_keyword),
    **dict.fromkeys(
        ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"),
        _number_keyword,
    ),
    **dict.fromkeys(("items", "uniqueItems"), _array_keyword),
    **dict.fromkeys(("allOf", "anyOf", "oneOf", "not", "if"), _logic),
}


def equal(one: Any, two: Any) -> bool:
    """jsonschema's equality: 1 and 1.0 are equal, true and 1 are not, lists and objects
    are compared item by item."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, Sequence) and isinstance(two, Sequence):
        return len(one) == len(two) and all(equal(i, j) for i, j in zip(one, two, strict=True))
    if isinstance(one, Mapping) and isinstance(two, Mapping):
        return len(one) == len(two) and all(
            key in two and equal(value, two[key]) for key, value in one.items()
        )
    if isinstance(one, bool) or isinstance(two, bool):
        return False  # `one is two` was not: true and 1, false and 0, true and false
    if not isinstance(one, numbers.Number | type(None)) or not isinstance(
        two, numbers.Number | type(None)
    ):
        raise _Unsure
    return bool(one == two)


# --- a validator: the fast check, then jsonschema ---------------------------------------------


def _is_strict_integer(_checker: object, instance: object) -> bool:
    # JSON Schema counts 8.0 as an integer; the API and YAML readers do not.
    return isinstance(instance, int) and not isinstance(instance, bool)


@cache
def spec_validator_class() -> Any:
    """Draft 2020-12 with integers that are ints only (8.0 is reported, not sent as a float).
    jsonschema is imported here, by the first check that is not sure a value is valid."""
    from jsonschema import Draft202012Validator
    from jsonschema.validators import extend

    return extend(  # type: ignore[no-untyped-call]  # jsonschema leaves it untyped
        Draft202012Validator,
        type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_strict_integer),
    )


class Validator:
    """One schema's validator: the fast check first (a valid value needs
    nothing else), jsonschema's (made on first need) for a value it does not pass, and for
    the words of what is wrong."""

    def __init__(self, node: Any, root: Mapping[str, Any]) -> None:
        self.node = node
        self.passes = compile_check(node, root)
        self._real: Any = None

    @property
    def real(self) -> Any:
        """jsonschema's validator of the same schema."""
        if self._real is None:
            self._real = spec_validator_class()(self.node)
        return self._real

    def is_valid(self, instance: Any) -> bool:
        if self.passes is not None and self.passes(instance):
            return True
        return bool(self.real.is_valid(instance))

    def iter_errors(self, instance: Any) -> Iterator[ValidationError]:
        if self.passes is not None and self.passes(instance):
            return iter(())
        errors: Iterator[ValidationError] = self.real.iter_errors(instance)
        return errors
