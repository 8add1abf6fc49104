"""`Command.from_values`: a command built from GraphQL's coerced values as `model_construct`
does when every value is one pydantic's validation passes unchanged; anything else through
`model_validate`. One straight-line function generated per command class (README, Performance,
item 29; tests/services/test_h8_from_values.py compares it with validation)."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

from app.services.commands import Command, _plain_json


_REQUIRED = object()
_BOUNDS = (-(2**63), 2**63 - 1)  # ints beyond these take validation's path
_BOUND_ATTRIBUTES = {"Ge": "ge", "Le": "le", "MinLen": "min_length", "MaxLen": "max_length"}


@lru_cache(maxsize=None)  # one entry per command class
def from_values_builder(cls: type[Command]) -> Callable[[dict[str, Any]], Any]:
    """`Command.from_values` for one command: straight-line code, one block per field."""
    plan = _plain_plan(cls)
    if plan is None:
        return cls.model_validate
    space: dict[str, Any] = {"validate": cls.model_validate, "new": cls.__new__, "cls": cls,
                             "setattr": object.__setattr__, "plain_document": _plain_document}
    lines = ["def from_values(data):", "    given = 0"]
    names = []
    for index, (name, default, factory, condition, document) in enumerate(plan):
        local = f"f{index}"
        names.append((name, local))
        lines.append(f"    if {name!r} in data:")
        if condition is None:
            lines.append("        return validate(data)")
        else:
            lines += [f"        {local} = data[{name!r}]",
                      f"        if not ({condition.format(v=local)}):",
                      "            return validate(data)"]
            if document:
                lines.append(f"        if {local} is not None: {local} = dict({local})")
            lines.append("        given += 1")
        lines.append("    else:")
        if factory is not None:
            space[f"factory{index}"] = factory
            lines.append(f"        {local} = factory{index}()")
        elif default is _REQUIRED:
            lines.append("        return validate(data)")
        else:
            space[f"default{index}"] = default
            lines.append(f"        {local} = default{index}")
    lines += [
        "    if given != len(data):",  # a key that is no field
        "        return validate(data)",
        # The instance state `model_construct` sets (pydantic 2.14's BaseModel.__slots__;
        # tests/services/test_h8_from_values.py fails if they change).
        "    model = new(cls)",
        "    setattr(model, '__dict__', {"
        + ", ".join(f"{name!r}: {local}" for name, local in names) + "})",
        "    setattr(model, '__pydantic_fields_set__', set(data))",
        "    setattr(model, '__pydantic_extra__', None)",
        "    setattr(model, '__pydantic_private__', None)",
        "    return model",
    ]
    exec(compile("\n".join(lines), f"<from_values {cls.__name__}>", "exec"), space)
    function = space["from_values"]
    function.source = "\n".join(lines)
    return function


def _plain_plan(cls: type[Command]) -> list[tuple[str, Any, Any, str | None, bool]] | None:
    """Per field in declaration order: its name, default or default_factory, the condition
    (on `{v}`) of a value validation passes unchanged (None: not read here, the value goes
    through validation), and whether it is a JSON object. None when the command's validation
    is not only `Command`'s config, `_exact_json_types` and the field declarations (a model
    validator, a private attribute, a post-init hook, another config, an alias…)."""
    if (dict(cls.model_config) != dict(Command.model_config)
            or cls.__private_attributes__
            or cls.model_post_init is not BaseModel.model_post_init
            or cls.__pydantic_root_model__):
        return None
    decorators = cls.__pydantic_decorators__
    if (decorators.model_validators or decorators.root_validators or decorators.validators
            or decorators.computed_fields):
        return None
    validated: set[str] = set()
    for name, decorator in decorators.field_validators.items():
        if name == "_exact_json_types":
            if (decorator.info.fields != ("*",) or decorator.info.mode != "before"
                    or decorator.func.__func__ is not Command._exact_json_types.__func__):
                return None
        elif "*" in decorator.info.fields:
            return None
        else:
            validated.update(decorator.info.fields)
    if "_exact_json_types" not in decorators.field_validators:
        return None
    plan = []
    for name, field in cls.model_fields.items():
        if (field.alias is not None or field.validation_alias is not None
                or field.discriminator is not None or not name.isidentifier()):
            return None
        if field.default_factory is not None:
            if field.default_factory_takes_validated_data:
                return None
            default, factory = None, field.default_factory
        elif field.is_required():
            default, factory = _REQUIRED, None
        elif field.default is None or type(field.default) in (bool, int, str):
            default, factory = field.default, None
        else:
            return None
        condition, document = _plain_condition(field)
        if name in validated:
            condition = None
        plan.append((name, default, factory, condition, document))
    return plan


def _plain_condition(field: Any) -> tuple[str | None, bool]:
    """The condition (on `{v}`) of the values of this field that validation (and
    `_exact_json_types`) passes unchanged, or None for a declaration not read here; and whether
    the field is a JSON object (copied as validation copies it)."""
    annotation = field.annotation
    optional = False
    if get_origin(annotation) in (Union, UnionType):
        args = get_args(annotation)
        if len(args) != 2 or type(None) not in args:
            return None, False
        annotation, optional = next(a for a in args if a is not type(None)), True
    bounds: dict[str, int] = {}
    for item in field.metadata:
        kind = type(item).__name__
        if kind not in _BOUND_ATTRIBUTES or kind in bounds:
            return None, False  # a pattern, strictness, another bound…
        bounds[kind] = getattr(item, _BOUND_ATTRIBUTES[kind], None)
        if type(bounds[kind]) is not int:
            return None, False
    document = get_origin(annotation) is dict
    if annotation is int and bounds.keys() <= {"Ge", "Le"}:
        low = max(bounds.get("Ge", _BOUNDS[0]), _BOUNDS[0])
        high = min(bounds.get("Le", _BOUNDS[1]), _BOUNDS[1])
        condition = f"type({{v}}) is int and {low} <= {{v}} <= {high}"
    elif annotation is str and bounds.keys() <= {"MinLen", "MaxLen"}:
        # ASCII only (an O(1) flag; pydantic refuses a lone surrogate, which Python allows),
        # and Python's strip removes every ASCII character pydantic's (Rust's trim) removes,
        # and more: a text it leaves unchanged, validation's strip leaves unchanged.
        condition = (f"type({{v}}) is str and {{v}}.isascii() and {bounds.get('MinLen', 0)} "
                     f"<= len({{v}}) <= {bounds.get('MaxLen', _BOUNDS[1])} "
                     f"and '\\x00' not in {{v}} and {{v}}.strip() == {{v}}")
    elif annotation is bool and not bounds:
        condition = "type({v}) is bool"
    elif document and get_args(annotation) == (str, Any) and not bounds:
        condition = "type({v}) is dict and plain_document({v})"
    else:
        return None, False
    if optional:
        condition = f"{{v}} is None or ({condition})"
    return condition, document


def _plain_document(value: dict[Any, Any]) -> bool:
    """A plain JSON object (`_plain_json`) whose keys are ASCII texts validation's strip
    leaves unchanged (its values are `Any`: validation keeps them as they are)."""
    if not _plain_json(value, 0):
        return False
    for key in value:  # validated as the texts above are
        if not key.isascii() or key.strip() != key:
            return False
    return True
