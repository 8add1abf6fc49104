"""The functions that complete plain values, generated from their plans' shapes (graphql-jit's idea).

schema/execution.py decides what is plain and builds the plans; this module writes, compiles and
caches (bounded, by shape) the Python functions that complete them: `_generate` for a list of
flat objects (leaf fields only), `_generate_tree` for an object whose selection is a "plain
subtree" (leaves, lists of leaves, plain objects and lists of them, at any depth). Both follow
the general path's rules value for value and raise `_NotPlain` for anything else, so that
graphql-core completes it and reports its errors at their exact paths.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from keyword import iskeyword
from typing import Any

from graphql import Undefined
from graphql.type.scalars import serialize_boolean, serialize_id, serialize_int, serialize_string
from strawberry.scalars import JSON
from strawberry.schema.types import base_scalars
from strawberry.schema.types.scalar import DEFAULT_SCALAR_REGISTRY

# Values that are never awaitable nor errors: the general path's checks are skipped for them.
_SETTLED = frozenset({str, int, float, bool, dict, list, datetime, date, uuid.UUID, Decimal})

# One selected field of a plain list item: response key, attribute name (None: __typename),
# the leaf type's coercion (or the type name for __typename), whether null is refused.
_Entry = tuple[str, str | None, Any, bool]


class _NotPlain(Exception):
    """A list the shortcut does not complete: the general path does, errors included."""



# --- One function per plan, generated (graphql-jit's idea) -------------------------------------
#
# An interpreted loop over the plan paid, per field, a tuple unpacking, a getattr by name and a
# coercion call whose answer is most often the value itself. Each plan's shape (response keys,
# attributes, coercion kinds, nullability) gets a function instead: one local per field, the
# checks for values already in their output form inline, `_slow` (the general rules) only when
# needed, and the item's dict built at once. Only response keys, type names (exact `str`s,
# written with repr()) and attribute names that are plain ASCII identifiers (else a getattr
# with the name as a global of the function) become source; coercions are arguments, so the
# cache keeps no schema alive and answers for every schema with the same shape.

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_UUID_TEXT = "h = '%032x' % {v}.int\n{v} = f'{{h[:8]}}-{{h[8:12]}}-{{h[12:16]}}-{{h[16:20]}}-{{h[20:]}}'"

# Coercion kind -> (condition on the value `{v}`, its answer: None for the value itself), tried
# in order before the general rules. Each answer is what the coercion itself returns for such
# a value: graphql-core's serializers return an exact str/bool and an int within 32 bits as
# they are and write a UUID with str() (an ID that is not a builtin); `int`/`str` as coercions
# (BigInt, Strawberry's UUID) return an exact int/str unchanged (str of a UUID: UUID.__str__,
# inlined in _UUID_TEXT); Strawberry's Date/DateTime/Time call the value's `isoformat`; JSON is
# the identity (and a value of a _SETTLED type is neither awaitable nor an error).
_FAST: dict[str, tuple[tuple[str, str | None], ...]] = {
    "String": (("type({v}) is str", None),),
    "ID": (("type({v}) is str", None), ("type({v}) is UUID", _UUID_TEXT)),
    "Int": ((f"type({{v}}) is int and {_INT_MIN} <= {{v}} <= {_INT_MAX}", None),),
    "Boolean": (("type({v}) is bool", None),),
    "int": (("type({v}) is int", None),),
    "str": (("type({v}) is str", None), ("type({v}) is UUID", _UUID_TEXT)),
    "isoformat": (
        ("type({v}) is datetime", "{v} = datetime_isoformat({v})"),
        ("type({v}) is date", "{v} = date_isoformat({v})"),
    ),
    "identity": (("type({v}) in SETTLED", None),),
    "call": (),
}


# The coercions _FAST knows, by id (a coercion may be any callable, hashable or not; these are
# kept alive by their modules): graphql-core's, the builtins, and Strawberry's own isoformat
# (one `methodcaller("isoformat")` for Date, DateTime and Time) and JSON (`lambda v: v`).
_KNOWN_KINDS = {
    id(serialize_string): "String", id(serialize_id): "ID", id(serialize_int): "Int",
    id(serialize_boolean): "Boolean", id(int): "int", id(str): "str",
    id(base_scalars.isoformat): "isoformat",
    id(DEFAULT_SCALAR_REGISTRY[JSON].serialize): "identity",
}


def _kind(coerce: Any) -> str:
    """Which of _FAST's rules the coercion follows ("call": none, always call it)."""
    return _KNOWN_KINDS.get(id(coerce), "call")


def _slow(value: Any, coerce: Any, required: bool, is_awaitable: Any) -> Any:
    """The general rules for one field's value (the interpreted loop's, unchanged)."""
    if value is None or value is Undefined:
        if required:
            raise _NotPlain
        return None
    if type(value) not in _SETTLED and (isinstance(value, Exception) or is_awaitable(value)):
        raise _NotPlain
    try:
        coerced = coerce(value)
    except Exception:
        raise _NotPlain from None
    if coerced is None or coerced is Undefined:
        raise _NotPlain
    return coerced


def _leaf_lines(v: str, coerce: str, kind: str, required: bool) -> list[str]:
    """Source that completes the leaf value in local `v` in place (coercion in local `coerce`):
    the inline checks for values in their output form, else the general rules (`slow`)."""
    lines: list[str] = []
    slow = f"{v} = slow({v}, {coerce}, {bool(required)}, is_awaitable)"
    branches = _FAST[kind]
    for n, (condition, answer) in enumerate(branches):
        lines.append(f"{'elif' if n else 'if'} {condition.format(v=v)}:")
        lines += ["    " + line for line in (answer or "pass").format(v=v).splitlines()]
    if required:
        lines += ["else:", "    " + slow] if branches else [slow]
    else:
        lines += [f"{'elif' if branches else 'if'} {v} is not None:", "    " + slow]
    return lines


def _readable(attribute: Any) -> bool:
    """Whether an attribute name may be written as `item.name` (else a getattr with the name)."""
    return (
        type(attribute) is str and attribute.isascii() and attribute.isidentifier()
        and not iskeyword(attribute)
    )


# (response key, attribute or None for __typename, kind or type name, whether null is refused)
_Signature = tuple[tuple[str, str | None, str, bool], ...]


@lru_cache(maxsize=256)  # shapes, not operations: a fixed set of documents fits
def _generate(signature: _Signature) -> Any:
    """The completion function for one plan shape (source in its `__source__`)."""
    namespace = _namespace()
    body: list[str] = []
    entries: list[str] = []
    for i, (key, attribute, kind, required) in enumerate(signature):
        if attribute is None:
            entries.append(f"{key!r}: {kind!r}")
            continue
        v = f"v{i}"
        entries.append(f"{key!r}: {v}")
        if _readable(attribute):
            body.append(f"{v} = item.{attribute}")
        else:
            namespace[f"A{i}"] = attribute
            body.append(f"{v} = getattr(item, A{i})")
        body += _leaf_lines(v, f"C{i}", kind, required)
    coerces = "".join(f"C{i}, " for i in range(len(signature)))
    source = "\n".join([
        "def complete(items, non_null, is_type_of, info, is_awaitable, coerces):",
        f"    ({coerces}) = coerces",
        "    completed = []",
        "    append = completed.append",
        "    for item in items:",
        "        if item is None:",
        "            if non_null:",
        "                raise NotPlain",
        "            append(None)",
        "            continue",
        "        try:",
        "            if is_type_of is not None and is_type_of(item, info) is not True:",
        "                raise NotPlain  # refused, or an awaitable answer: the general path decides",
        *("            " + line for line in body),
        "        except Exception:  # a read or a coercion failed: the general path reports it",
        "            raise NotPlain from None",
        "        append({" + ", ".join(entries) + "})",
        "    return completed",
    ])
    exec(compile(source, "<plain list completion>", "exec"), namespace)  # noqa: S102
    complete = namespace["complete"]
    complete.__source__ = source
    return complete


class _Plan:
    """A plan's entries, their coercions and the generated function that completes its items."""

    __slots__ = ("coerces", "complete", "entries")

    def __init__(self, entries: list[_Entry], complete: Any) -> None:
        self.entries = entries
        self.coerces = tuple(coerce for _, _, coerce, _ in entries)
        self.complete = complete

    @classmethod
    def of(cls, entries: list[_Entry]) -> _Plan | None:
        """The plan, or None (the general path) for a response key or type name that is not
        an exact str, the only kind written into source."""
        signature = []
        for key, attribute, coerce, required in entries:
            if type(key) is not str or (attribute is None and type(coerce) is not str):
                return None
            kind = coerce if attribute is None else _kind(coerce)
            signature.append((key, attribute, kind, required))
        return cls(entries, _generate(tuple(signature)))




# --- Plain subtrees: an object with leaves, lists and plain objects at any depth ---------------
#
# A tree plan's nodes, as execution.py builds them (live schema objects) and as `_generate_tree`
# gets them (shapes only, the signature):
#   ("leaf", coercion | kind, required)
#   ("list", item node, required)
#   ("object", ((response key, attribute, node) | (response key, None, type name), ...),
#    is_type_of | whether there is one, required)
# `required`: the position is non-null. The coercions and `is_type_of`s are the function's
# constants (`K0, K1, …`), in the order of a depth-first walk of the tree (an object's
# `is_type_of` before its fields), which `_signature` and `_TreeWriter` both follow.

TreeNode = tuple[Any, ...]


def _namespace() -> dict[str, Any]:
    return {
        "NotPlain": _NotPlain, "slow": _slow, "SETTLED": _SETTLED, "UUID": uuid.UUID,
        "Undefined": Undefined, "datetime": datetime, "date": date,
        "datetime_isoformat": datetime.isoformat, "date_isoformat": date.isoformat,
    }


def _signature(node: TreeNode, consts: list[Any]) -> TreeNode | None:
    """The node's shape (None: a key or type name that is not an exact str), its constants
    appended to `consts`."""
    tag = node[0]
    if tag == "leaf":
        consts.append(node[1])
        return ("leaf", _kind(node[1]), node[2])
    if tag == "list":
        item = _signature(node[1], consts)
        return None if item is None else ("list", item, node[2])
    _, fields, is_type_of, required = node
    if is_type_of is not None:
        consts.append(is_type_of)
    shaped = []
    for key, attribute, sub in fields:
        if type(key) is not str:
            return None
        if attribute is None:
            if type(sub) is not str:
                return None
            shaped.append((key, None, sub))
            continue
        sub_shape = _signature(sub, consts)
        if sub_shape is None:
            return None
        shaped.append((key, attribute, sub_shape))
    return ("object", tuple(shaped), is_type_of is not None, required)


class _TreeWriter:
    """Writes the source that completes one tree: fresh local names, constants in walk order."""

    def __init__(self) -> None:
        self.names = 0
        self.consts = 0
        self.namespace = _namespace()

    def name(self, prefix: str) -> str:
        self.names += 1
        return f"{prefix}{self.names}"

    def const(self) -> str:
        self.consts += 1
        return f"K{self.consts - 1}"

    def value(self, node: TreeNode, v: str) -> list[str]:
        """Source that completes the value in local `v` in place, or raises NotPlain."""
        tag = node[0]
        if tag == "leaf":
            return _leaf_lines(v, self.const(), node[1], node[2])
        null = ["    raise NotPlain" if node[-1] else f"    {v} = None"]
        if tag == "list":
            out, item = self.name("o"), self.name("x")
            inner = self.value(node[1], item)
            return [
                f"if type({v}) is list or type({v}) is tuple:",
                f"    {out} = []",
                f"    for {item} in {v}:",
                *("        " + line for line in inner),
                f"        {out}.append({item})",
                f"    {v} = {out}",
                f"elif {v} is None or {v} is Undefined:",
                *null,
                "else:  # an iterable of another kind, an error, an awaitable",
                "    raise NotPlain",
            ]
        _, fields, has_is_type_of, _required = node
        body = [f"if isinstance({v}, Exception) or is_awaitable({v}):", "    raise NotPlain"]
        if has_is_type_of:
            body += [f"if {self.const()}({v}, info) is not True:", "    raise NotPlain"]
        entries = []
        for key, attribute, sub in fields:
            if attribute is None:
                entries.append(f"{key!r}: {sub!r}")
                continue
            a = self.name("v")
            entries.append(f"{key!r}: {a}")
            if _readable(attribute):
                body.append(f"{a} = {v}.{attribute}")
            else:
                self.namespace[f"A{a}"] = attribute
                body.append(f"{a} = getattr({v}, A{a})")
            body += self.value(sub, a)
        body.append(f"{v} = {{" + ", ".join(entries) + "}")
        return [
            f"if {v} is None or {v} is Undefined:",
            *null,
            "else:",
            *("    " + line for line in body),
        ]


@lru_cache(maxsize=128)  # shapes, not operations: a fixed set of documents fits
def _generate_tree(signature: TreeNode) -> Any:
    """The function completing one tree shape: `complete(value, info, is_awaitable, consts)`
    -> the value's dict (source in its `__source__`)."""
    writer = _TreeWriter()
    body = writer.value(signature, "value")
    consts = "".join(f"K{i}, " for i in range(writer.consts))
    source = "\n".join([
        "def complete(value, info, is_awaitable, consts):",
        f"    ({consts}) = consts",
        "    try:",
        *("        " + line for line in body),
        "    except Exception:  # a read or a coercion failed: the general path reports it",
        "        raise NotPlain from None",
        "    return value",
    ])
    namespace = writer.namespace
    exec(compile(source, "<plain subtree completion>", "exec"), namespace)  # noqa: S102
    complete = namespace["complete"]
    complete.__source__ = source
    return complete


class _Tree:
    """A tree plan's constants and the generated function that completes its values."""

    __slots__ = ("complete", "consts", "node")

    def __init__(self, node: TreeNode, consts: tuple[Any, ...], complete: Any) -> None:
        self.node = node
        self.consts = consts
        self.complete = complete

    @classmethod
    def of(cls, node: TreeNode) -> _Tree | None:
        """The plan of an object node, or None (the general path) when a key or type name is
        not an exact str."""
        consts: list[Any] = []
        signature = _signature(node, consts)
        if signature is None:
            return None
        return cls(node, tuple(consts), _generate_tree(signature))
