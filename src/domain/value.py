"""``Value``: the base of the package's attrs values, for one thing only: their repr.

attrs writes and compiles a ``__repr__`` for each class it builds, and building classes is most of what importing
the domain costs: every command pays it at start-up. The values say ``repr=False`` to attrs and inherit this one,
which reads the same (``ClassName(field=value, ...)``) and, like attrs', leaves out every field declared with
``repr=False`` (the secrets).
"""

from __future__ import annotations


class Value:
    __slots__ = ()

    def __repr__(self) -> str:
        fields = getattr(type(self), "__attrs_attrs__", ())
        shown = ", ".join(f"{field.name}={getattr(self, field.name)!r}" for field in fields if field.repr)
        return f"{type(self).__qualname__}({shown})"
