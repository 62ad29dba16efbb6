"""``Value``: the base of the package's attrs values, for their repr, equality and hash.

attrs writes and compiles these methods for each class it builds, and building classes is most of what importing
the domain costs: every command pays it at start-up. The values say ``repr=False, eq=False`` to attrs and inherit
these, which behave as attrs' would: the repr reads ``ClassName(field=value, ...)`` and leaves out every field
declared with ``repr=False`` (the secrets); two values are equal when they are of the same class and their fields
are equal, leaving out fields declared with ``eq=False``; the hash follows equality (a value holding a dict cannot
be hashed, as with attrs). A class that wants identity instead (it holds an exception) sets ``identity = True``.
"""

from __future__ import annotations


def _compared(value: object) -> tuple[object, ...]:
    return tuple(getattr(value, field.name) for field in getattr(type(value), "__attrs_attrs__", ()) if field.eq)


class Value:
    __slots__ = ()

    def __repr__(self) -> str:
        fields = getattr(type(self), "__attrs_attrs__", ())
        shown = ", ".join(f"{field.name}={getattr(self, field.name)!r}" for field in fields if field.repr)
        return f"{type(self).__qualname__}({shown})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self is other or _compared(self) == _compared(other)

    def __hash__(self) -> int:
        return hash((self.__class__, _compared(self)))


class Identity(Value):
    """A ``Value`` compared and hashed by identity: for values that hold an exception or a callable."""

    __slots__ = ()

    __eq__ = object.__eq__
    __hash__ = object.__hash__
