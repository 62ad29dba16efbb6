"""The package root: every error the package raises can be imported from it by name, and nothing else is exposed
under a misspelt name."""

import inspect

import pytest

import hyperframes_auth
from hyperframes_auth.domain import errors

INTERNAL = {"InvalidTransition"}  # a bug in the machine itself, never met by a caller


def _raised_errors() -> list[str]:
    return sorted(
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, errors.AuthError) and name not in INTERNAL
    )


@pytest.mark.parametrize("name", _raised_errors())
def test_every_error_can_be_caught_by_its_name_from_the_package_root(name: str) -> None:
    assert name in hyperframes_auth.__all__
    assert getattr(hyperframes_auth, name) is getattr(errors, name)


def test_every_public_name_resolves_and_a_misspelt_one_is_an_attribute_error() -> None:
    for name in hyperframes_auth.__all__:
        assert getattr(hyperframes_auth, name) is not None
    with pytest.raises(AttributeError, match="NoSuchName"):
        hyperframes_auth.NoSuchName  # type: ignore[attr-defined]  # noqa: B018
