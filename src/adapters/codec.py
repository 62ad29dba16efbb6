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
import math
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ..domain.checks import api_key_problem, is_access_token, is_refresh_token
from ..domain.credentials import Account, CredentialsDocument, Environment, Label, OAuthTokens, UserProfile
from ..domain.errors import InvalidStore

T = TypeVar("T")

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..domain.api import UserInfo

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
    """Register hooks that keep unknown keys of ``cls``'s JSON object in its ``extra`` field, and write them back.

    cattrs generates the field-by-field functions on first use (and without caching their source in ``linecache``):
    ``auth token`` reads a document but never writes one, and its cold start is a measured goal.
    """
    made: dict[str, Any] = {}

    def structure() -> Any:
        if "structure" not in made:
            made["structure"] = make_dict_structure_fn(
                cls, _converter, _cattrs_use_linecache=False, extra=override(omit=True), **overrides
            )
        return made["structure"]

    def unstructure() -> Any:
        if "unstructure" not in made:
            made["unstructure"] = make_dict_unstructure_fn(
                cls, _converter, _cattrs_use_linecache=False, extra=override(omit=True)
            )
        return made["unstructure"]

    def read(raw: object, _type: object) -> T:
        if not isinstance(raw, dict):
            raise InvalidStore(f"{name} must be a JSON object")
        value = structure()({k: raw.get(k) for k in known}, cls)  # a missing field reads as null
        return attrs.evolve(value, extra={k: v for k, v in raw.items() if k not in known})  # type: ignore[no-any-return]

    def write(value: T) -> dict[str, object]:
        out = {k: v for k, v in unstructure()(value).items() if v not in (None, "")}
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

    def finite(literal: str) -> float | None:
        # A number too large for a float (1e400) becomes null, as the TypeScript CLI writes it back: never
        # "Infinity", which no JSON reader (ours included) would accept again.
        number = float(literal)
        return number if math.isfinite(number) else None

    return json.loads(text, parse_constant=no_constants, parse_float=finite)


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
    problem = api_key_problem(raw)  # it goes into a header: the same rules as a key from anywhere else
    if problem is not None:
        raise InvalidStore(f"api_key {problem}")
    return raw


NAMESPACE = "hyperframes_auth"
NAMESPACE_VERSION = 1
_TOP_KEYS = ("api_key", "oauth", "user", NAMESPACE)
_ACCOUNT_KEYS = ("environment", "identity", "api_key", "oauth", "user")


def _read_environment(raw: object) -> Environment:
    if not isinstance(raw, dict) or not isinstance(raw.get("api"), str) or not raw["api"]:
        raise InvalidStore(f"{NAMESPACE}: an environment must name its API origin")
    token_url, client_id = raw.get("token_url"), raw.get("client_id")
    return Environment(
        raw["api"],
        token_url if isinstance(token_url, str) and token_url else None,
        client_id if isinstance(client_id, str) and client_id else None,
    )


def _read_identity(raw: object) -> str | None:
    return raw if isinstance(raw, str) and raw else None


def _read_account(raw: object) -> Account:
    if not isinstance(raw, dict):
        raise InvalidStore(f"{NAMESPACE}: an account must be a JSON object")
    raw_oauth = raw.get("oauth")
    return Account(
        environment=_read_environment(raw.get("environment")),
        identity=_read_identity(raw.get("identity")),
        api_key=_read_api_key(raw.get("api_key")),
        oauth=None if raw_oauth is None else _converter.structure(raw_oauth, OAuthTokens),
        user=_read_user(raw.get("user")),
        extra={k: v for k, v in raw.items() if k not in _ACCOUNT_KEYS},
    )


def _read_namespace(raw: object) -> dict[str, Any]:
    """Our own key: the top-level slot's label, the other accounts, and who is active where."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidStore(f"{NAMESPACE} must be a JSON object")
    if raw.get("version") != NAMESPACE_VERSION:
        raise InvalidStore(
            f"{NAMESPACE} has format version {raw.get('version')!r}, which this version cannot read",
            "Upgrade hyperframes-auth (pip install -U hyperframes-auth).",
        )
    top, accounts, active = raw.get("top"), raw.get("accounts", []), raw.get("active", {})
    if not isinstance(accounts, list) or not isinstance(active, dict):
        raise InvalidStore(f"{NAMESPACE}: accounts must be a list and active an object")
    label = None
    if isinstance(top, dict):
        printed = top.get("api_key_sha256")
        label = Label(
            _read_environment(top.get("environment")),
            _read_identity(top.get("identity")),
            printed if isinstance(printed, str) and printed else None,
        )
    return {
        "label": label,
        "others": tuple(_read_account(a) for a in accounts),
        "active": {k: v for k, v in active.items() if isinstance(k, str) and isinstance(v, str)},
        "namespace_extra": {k: v for k, v in raw.items() if k not in ("version", "top", "accounts", "active")},
    }


def _document_from(root: object) -> CredentialsDocument:
    if not isinstance(root, dict):
        raise InvalidStore("credential file root must be a JSON object")
    raw_oauth = root.get("oauth")
    return CredentialsDocument(
        api_key=_read_api_key(root.get("api_key")),
        oauth=None if raw_oauth is None else _converter.structure(raw_oauth, OAuthTokens),
        user=_read_user(root.get("user")),
        extra={k: v for k, v in root.items() if k not in _TOP_KEYS},
        source="file_json",
        **_read_namespace(root.get(NAMESPACE)),
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


def _environment_tree(env: Environment) -> dict[str, object]:
    out: dict[str, object] = {"api": env.api}
    if env.token_url:
        out["token_url"] = env.token_url
    if env.client_id:
        out["client_id"] = env.client_id
    return out


def _slot_tree(api_key: str | None, oauth: OAuthTokens | None, user: UserProfile | None) -> dict[str, object]:
    out: dict[str, object] = {}
    if api_key:
        out["api_key"] = api_key
    if oauth:
        out["oauth"] = _converter.unstructure(oauth, OAuthTokens)
    if user and not user.is_empty():
        out["user"] = _converter.unstructure(user, UserProfile)
    return out


def _account_tree(account: Account) -> dict[str, object]:
    if account.environment is None:  # only the top-level slot may be unlabelled; accounts.py never stores one
        raise InvalidStore("an account without an environment cannot be stored")
    out: dict[str, object] = {"environment": _environment_tree(account.environment)}
    if account.identity:
        out["identity"] = account.identity
    out.update(_slot_tree(account.api_key, account.oauth, account.user))
    out.update(account.extra)
    return out


def _namespace_tree(doc: CredentialsDocument) -> dict[str, object] | None:
    if doc.label is None and not doc.others and not doc.active and not doc.namespace_extra:
        return None  # a file no different from the TypeScript CLI's
    out: dict[str, object] = {"version": NAMESPACE_VERSION}
    if doc.label is not None and (doc.api_key or doc.oauth):
        top: dict[str, object] = {"environment": _environment_tree(doc.label.environment)}
        if doc.label.identity:
            top["identity"] = doc.label.identity
        if doc.label.api_key_print:
            top["api_key_sha256"] = doc.label.api_key_print
        out["top"] = top
    if doc.active:
        out["active"] = dict(doc.active)
    if doc.others:
        out["accounts"] = [_account_tree(a) for a in doc.others if a.environment is not None]
    out.update(doc.namespace_extra)
    return out


def document_tree(doc: CredentialsDocument) -> dict[str, object]:
    """The document as the JSON object the TypeScript CLI writes (fixed key order, empty values omitted), plus our
    own key when there is more than the one account of its top-level slot."""
    out = _slot_tree(doc.api_key, doc.oauth, doc.user)
    out.update(doc.extra)
    namespace = _namespace_tree(doc)
    if namespace is not None:
        out[NAMESPACE] = namespace
    return out


def write_document(doc: CredentialsDocument) -> str:
    """The file's text for ``doc``: 2-space JSON and a newline."""
    return json.dumps(document_tree(doc), indent=2, ensure_ascii=False) + "\n"


def encode_document(doc: CredentialsDocument) -> bytes:
    """The file's bytes for ``doc``: UTF-8. A lone surrogate (a server's ``\\udc9b`` in a profile field) cannot be
    UTF-8; it can only sit inside a JSON string, where its backslash escape means the same code point, so the file
    stays valid JSON, reads back identical, and the save never fails on it."""
    return write_document(doc).encode("utf-8", "backslashreplace")


# ---------------------------------------------------------------------------------------------- API answers


def read_user_info(payload: object) -> UserInfo:
    """The profile in a ``/v3/users/me`` payload, wrapped in ``data`` or not; fields of the wrong type are dropped."""
    from ..domain.api import UserInfo  # here, not at the top: reading the credentials file must not pay for it

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
    # ASCII only: a field a server filled (a name with U+202E, a C1 control) cannot reach a terminal raw.
    return json.dumps(to_plain(value), indent=2 if pretty else None, ensure_ascii=True)
