"""``Value``: the repr, equality and hash every attrs value of the package inherits, as attrs would write them."""

import attrs
import pytest

from hyperframes_auth.domain.value import Identity, Value


@attrs.frozen(repr=False, eq=False)
class Pair(Value):
    shown: str
    secret: str = attrs.field(repr=False)
    noted: str = attrs.field(default="", eq=False)


@attrs.frozen(repr=False, eq=False)
class OtherPair(Value):
    shown: str
    secret: str = attrs.field(repr=False)
    noted: str = attrs.field(default="", eq=False)


@attrs.frozen(repr=False, eq=False)
class Holder(Identity):
    error: Exception


def test_the_repr_names_the_class_and_shows_only_fields_that_are_not_secret() -> None:
    assert repr(Pair("a", "s3cret", "n")) == "Pair(shown='a', noted='n')"
    assert "s3cret" not in repr(Pair("a", "s3cret"))


def test_equality_is_by_class_and_the_fields_that_take_part() -> None:
    assert Pair("a", "s") == Pair("a", "s", noted="ignored")
    assert Pair("a", "s") != Pair("a", "t")
    assert Pair("a", "s") != OtherPair("a", "s")
    assert Pair("a", "s") != ("a", "s")
    assert hash(Pair("a", "s", "x")) == hash(Pair("a", "s", "y"))
    assert len({Pair("a", "s"), Pair("a", "s"), Pair("b", "s")}) == 2


def test_a_value_holding_something_unhashable_cannot_be_hashed() -> None:
    @attrs.frozen(repr=False, eq=False)
    class WithDict(Value):
        data: dict[str, str]

    assert WithDict({"a": "b"}) == WithDict({"a": "b"})
    with pytest.raises(TypeError):
        hash(WithDict({}))


def test_identity_values_are_equal_only_to_themselves() -> None:
    error = ValueError("x")
    one = Holder(error)
    assert one == one  # noqa: PLR0124
    assert one != Holder(error)
    assert len({one, Holder(error)}) == 2


def test_a_subclass_without_attrs_fields_reads_and_compares_as_empty() -> None:
    class Bare(Value):
        __slots__ = ()

    assert repr(Bare()) == "test_a_subclass_without_attrs_fields_reads_and_compares_as_empty.<locals>.Bare()"
    assert Bare() == Bare()
    assert hash(Bare()) == hash(Bare())
