"""The JSON edge: one private cattrs converter for the credentials document, HeyGen's API answers and ``--json``.

Reading is lenient where the TypeScript CLI is lenient and strict where a bad value would be dangerous:

* the credentials document: the root must be an object; ``api_key`` a non-empty key without control characters;
  ``oauth.access_token`` a token that can go into a header (``domain/checks.py``); a refresh token that cannot is
  dropped (the access token stays usable); a malformed ``user`` block or field is skipped, never fatal. Unknown
  keys at the top level and inside ``oauth`` and ``user`` are kept in ``extra`` and written back verbatim.
* ``/v3/users/me``: the profile is read from ``data`` or from the top level; fields of the wrong type are dropped.
* a legacy file holding a bare API key is read as a document whose source is ``file_legacy``.

Writing produces the TypeScript CLI's layout: fixed key order, empty values omitted, 2-space JSON, a final newline.

Errors: anything unreadable raises :class:`InvalidStore` (documents) or :class:`ApiError` (API answers); no
cattrs or json exception leaves this module.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ..domain.api import UserInfo
from ..domain.checks import is_access_token, is_refresh_token
from ..domain.credentials import CredentialsDocument, OAuthTokens, UserProfile
from ..domain.errors import InvalidStore
from ..domain.redact import has_control_chars

T = TypeVar("T")

_converter = cattrs.Converter(detailed_validation=False, forbid_extra_keys=False)


# ---------------------------------------------------------------------------------------------- field rules


def _lenient_str(value: object, _type: object) -> str | None:
    """A string field that is skipped (``None``) when it is empty or not a string."""
    return value if isinstance(value, str) and value else None


def _lenient_object(value: object, _type: object) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _access_token(value: object, _type: object) -> str:
    if not is_access_token(value):
        raise InvalidStore("oauth.access_token must be a non-empty token of visible ASCII characters")
    return str(value)


def _refresh_token(value: object, _type: object) -> str | None:
    # The TypeScript CLI drops an unusable refresh token silently; the access token stays usable.
    return value if isinstance(value, str) and is_refresh_token(value) else None


_converter.register_structure_hook(str | None, _lenient_str)
_converter.register_structure_hook(dict[str, object] | None, _lenient_object)


def _with_extra(cls: type[T], name: str, known: tuple[str, ...], **overrides: Any) -> None:
    """Register hooks that keep unknown keys of ``cls``'s JSON object in its ``extra`` field, and write them back."""
    structure = make_dict_structure_fn(cls, _converter, extra=override(omit=True), **overrides)
    unstructure = make_dict_unstructure_fn(cls, _converter, extra=override(omit=True))

    def read(raw: object, _type: object) -> T:
        if not isinstance(raw, dict):
            raise InvalidStore(f"{name} must be a JSON object")
        value = structure({k: raw.get(k) for k in known}, cls)  # a missing field reads as null
        return attrs.evolve(value, extra={k: v for k, v in raw.items() if k not in known})  # type: ignore[misc]

    def write(value: T) -> dict[str, object]:
        out = {k: v for k, v in unstructure(value).items() if v not in (None, "")}
        out.update(value.extra)  # type: ignore[attr-defined]
        return out

    _converter.register_structure_hook(cls, read)
    _converter.register_unstructure_hook(cls, write)


_with_extra(
    OAuthTokens,
    "oauth",
    ("access_token", "refresh_token", "expires_at", "scope", "token_type"),
    access_token=override(struct_hook=_access_token),
    refresh_token=override(struct_hook=_refresh_token),
)
_with_extra(UserProfile, "user", ("email", "first_name", "last_name", "username"))


# ---------------------------------------------------------------------------------------------- the document


def _json(text: str) -> object:
    def no_constants(name: str) -> object:
        raise ValueError(f"{name} is not valid JSON")

    return json.loads(text, parse_constant=no_constants)


def _read_user(raw: object) -> UserProfile | None:
    if not isinstance(raw, dict):
        return None  # a malformed user block is skipped, never fatal
    profile = _converter.structure(raw, UserProfile)
    return None if profile.is_empty() else profile


def _read_api_key(raw: object) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw:
        raise InvalidStore("api_key must be a non-empty string")
    if has_control_chars(raw):
        raise InvalidStore("api_key must not contain control characters")
    return raw


def _document_from(root: object) -> CredentialsDocument:
    if not isinstance(root, dict):
        raise InvalidStore("credential file root must be a JSON object")
    raw_oauth = root.get("oauth")
    return CredentialsDocument(
        api_key=_read_api_key(root.get("api_key")),
        oauth=None if raw_oauth is None else _converter.structure(raw_oauth, OAuthTokens),
        user=_read_user(root.get("user")),
        extra={k: v for k, v in root.items() if k not in ("api_key", "oauth", "user")},
        source="file_json",
    )


def _looks_like_plain_key(text: str) -> bool:
    return len(text) >= 8 and all("!" <= ch <= "~" for ch in text)


def read_document(text: str) -> CredentialsDocument:
    """Read the credentials file's text: JSON, or a legacy file holding a bare API key.

    Raises:
        InvalidStore: neither valid credentials JSON nor a plain API key.
    """
    text = text.strip()
    if not text:
        return CredentialsDocument()
    if not text.startswith("{"):
        if _looks_like_plain_key(text):
            return CredentialsDocument(api_key=text, source="file_legacy")
        raise InvalidStore("file is not JSON and does not look like a plain API key")
    try:
        root = _json(text)
    except (ValueError, RecursionError) as exc:
        raise InvalidStore(f"invalid JSON: {str(exc)[:120]}") from None
    try:
        return _document_from(root)
    except InvalidStore:
        raise
    except (cattrs.BaseValidationError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidStore(f"unexpected content ({type(exc).__name__})") from None


def document_tree(doc: CredentialsDocument) -> dict[str, object]:
    """The document as the JSON object the TypeScript CLI writes (fixed key order, empty values omitted)."""
    out: dict[str, object] = {}
    if doc.api_key:
        out["api_key"] = doc.api_key
    if doc.oauth:
        out["oauth"] = _converter.unstructure(doc.oauth, OAuthTokens)
    if doc.user and not doc.user.is_empty():
        out["user"] = _converter.unstructure(doc.user, UserProfile)
    out.update(doc.extra)
    return out


def write_document(doc: CredentialsDocument) -> str:
    """The file's text for ``doc``: 2-space JSON and a newline."""
    return json.dumps(document_tree(doc), indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------------------------- API answers

_converter.register_structure_hook(UserInfo, make_dict_structure_fn(UserInfo, _converter))


def read_user_info(payload: object) -> UserInfo:
    """The profile in a ``/v3/users/me`` payload, wrapped in ``data`` or not; fields of the wrong type are dropped."""
    if not isinstance(payload, dict):
        return UserInfo()
    data = payload.get("data")
    if isinstance(data, dict):
        payload = data
    elif "data" in payload:
        return UserInfo()
    return _converter.structure(payload, UserInfo)


# ---------------------------------------------------------------------------------------------- --json documents


def to_plain(value: object) -> object:
    """A value (attrs classes, mappings, sequences) as plain JSON-ready data."""
    return _converter.unstructure(value)


def dumps(value: object, *, pretty: bool = False) -> str:
    """A ``--json`` document: ``value`` unstructured and serialised (2-space indent when ``pretty``)."""
    return json.dumps(to_plain(value), indent=2 if pretty else None, ensure_ascii=False)
