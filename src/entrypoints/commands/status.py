"""``auth status``: which credential is in effect, and whether HeyGen accepts it (exit 1 when not).

``--json`` prints one of two documents (``docs/JSON.md`` lists every field): the configured one, and
``{"configured": false, ...}`` with ``interactive`` and ``recommended_action`` when nothing is signed in.
"""

from __future__ import annotations

from ...domain.credentials import UserProfile
from ...domain.errors import AuthError, NotConfigured
from ...domain.primitives import parse_instant
from ...domain.redact import neutralize
from ...domain.resolve import ENV_SOURCES, OAuthCredential
from ..bootstrap import json_document
from ..terminal import EXIT_FAIL, EXIT_OK, Terminal
from .common import fail_json, guarded, home_path, identity, make_auth, settings_of
from .token import normalised_expiry

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime

    from ...domain.api import UserInfo
    from ..facade import Status

RECOMMENDED_ACTION = "hyperframes auth login"


def _source_label(source: str, location: str) -> str:
    if source in ENV_SOURCES:
        return f"env ({ENV_SOURCES[source]})"
    if source == "file_legacy":
        return f"file ({home_path(location)} — legacy plaintext)"
    return f"file ({home_path(location)})"


def _read_from(status: Status) -> str:
    """The file the credentials were read from: the plain file while the encrypted store has not been written yet
    (it reads the plain file until its first save moves it in)."""
    import os

    if status.plain_leftover and not os.path.lexists(status.location):
        return status.plain_leftover
    return status.location


def _profile_json(profile: UserProfile | None) -> dict[str, object] | None:
    if profile is None:
        return None
    return {
        "email": profile.email,
        "first_name": profile.first_name,
        "last_name": profile.last_name,
        "username": profile.username,
        "display_name": profile.display_name(),
    }


def _user_json(user: UserInfo | None) -> dict[str, object] | None:
    if user is None:
        return None
    fields = ("username", "email", "first_name", "last_name", "billing_type", "wallet", "subscription", "usage_based")
    return {name: getattr(user, name) for name in fields if getattr(user, name) is not None}


def status_document(status: Status) -> dict[str, object]:
    """The configured ``--json`` document (field order kept stable for readers)."""
    credential = status.credential
    payload: dict[str, object] = {
        "configured": True,
        "source": credential.source,
        "type": credential.kind,
        "user": _user_json(status.user),
        "api_error": neutralize(status.api_error.message) if status.api_error else None,
    }
    if isinstance(credential, OAuthCredential):
        tokens = credential.tokens
        payload |= {
            "expires_at": normalised_expiry(tokens.expires_at),
            "refreshable": credential.refreshable,
            "scope": tokens.scope,
        }
    storage: dict[str, object] = {"backend": status.backend, "path": status.location}
    if status.keeper is not None:
        storage["keeper"] = status.keeper
    if status.plain_leftover is not None:
        storage["plain_leftover"] = status.plain_leftover
    payload["storage"] = storage
    payload["persisted_user"] = None if credential.from_env else _profile_json(status.persisted_user)
    payload["accounts"] = [
        {"identity": a.identity, "type": "+".join(a.kinds), "active": a.active} for a in status.accounts
    ]
    return payload


def _rows(terminal: Terminal, status: Status, now: datetime) -> None:
    credential = status.credential
    terminal.say(f"Source: {_source_label(credential.source, _read_from(status))}")
    terminal.say(f"Type:   {credential.kind}")
    if isinstance(credential, OAuthCredential):
        tokens = credential.tokens
        expiry = parse_instant(tokens.expires_at)
        if expiry is not None:
            state = "valid" if expiry > now else "expired"
            suffix = " · refreshable" if credential.refreshable else ""
            terminal.say(f"Expires: {normalised_expiry(tokens.expires_at)} ({state}){suffix}")
        if tokens.scope:
            terminal.say(f"Scope:  {neutralize(tokens.scope)}")
    terminal.say(f"Storage: {status.backend} ({home_path(status.location)})")
    if status.keeper:
        terminal.say(f"Key:     {neutralize(status.keeper)}")
    if status.plain_leftover:
        terminal.warn(
            f"Note: a plain credentials file is still at {home_path(status.plain_leftover)}; "
            "the next sign-in moves it into the encrypted store."
        )
    if status.api_error is not None:
        terminal.say(f"API check failed: {neutralize(status.api_error.message)}")
        cached = status.persisted_user.display_name() if status.persisted_user else None
        if cached:
            terminal.say(f"Account: {neutralize(cached)} (cached)")
    else:
        _account_rows(terminal, status.user)
    _accounts_list(terminal, status)


def _accounts_list(terminal: Terminal, status: Status) -> None:
    """Every account of this environment, the active one marked (shown when there is more than one)."""
    if len(status.accounts) < 2:
        return
    terminal.say("Accounts:")
    for account in status.accounts:
        mark = "*" if account.active else " "
        kinds = "+".join(account.kinds)
        state = ", active" if account.active else ""
        terminal.say(f"  {mark} {neutralize(account.identity or '(unknown user)')} ({kinds}{state})")


def _money(value: object) -> str:
    return f"{value}" if value is not None else "?"


def _account_rows(terminal: Terminal, user: UserInfo | None) -> None:
    terminal.say(f"Account: {identity(user)}")
    if user is None:
        return
    if user.billing_type:
        terminal.say(f"Billing: {neutralize(user.billing_type)}")
    wallet = user.wallet or {}
    if wallet.get("remaining_balance") is not None:
        currency = f" {wallet['currency']}" if wallet.get("currency") else ""
        terminal.say(neutralize(f"Wallet:  {wallet['remaining_balance']}{currency}"))
    subscription = user.subscription or {}
    if subscription.get("plan"):
        terminal.say(neutralize(f"Plan:    {subscription['plan']}"))
    buckets = subscription.get("credits") if isinstance(subscription.get("credits"), dict) else {}
    for label, key in (("Premium credits:", "premium_credits"), ("Add-on credits: ", "add_on_credits")):
        entry = buckets.get(key) if isinstance(buckets, dict) else None
        if isinstance(entry, dict) and entry.get("remaining") is not None:
            resets = f" (resets {str(entry['resets_at'])[:10]})" if entry.get("resets_at") else ""
            terminal.say(neutralize(f"{label} {entry['remaining']}{resets}"))
    usage = user.usage_based or {}
    if usage.get("spending_current_usd") is not None:
        cap = f" / ${_money(usage['spending_cap_usd'])}" if usage.get("spending_cap_usd") is not None else ""
        terminal.say(neutralize(f"Usage:   ${_money(usage['spending_current_usd'])}{cap}"))


def _not_signed_in(terminal: Terminal, as_json: bool) -> int:
    if as_json:
        document = {
            "configured": False,
            "interactive": terminal.interactive() and not terminal.in_ci(),
            "recommended_action": RECOMMENDED_ACTION,
        }
        terminal.say(json_document(document))
    else:
        terminal.say("Not signed in to HeyGen.")
        terminal.say("Run `hyperframes auth login` to sign in (or `hyperframes auth login --api-key`).")
    return EXIT_FAIL


def status(terminal: Terminal, as_json: bool = False, verbose: bool = False) -> int:
    def act() -> int:
        try:
            auth = make_auth(terminal, settings_of(terminal, verbose))
            report = auth.status()
        except NotConfigured:
            return _not_signed_in(terminal, as_json)
        except AuthError as exc:
            if as_json:  # the TypeScript CLI's shape ("configured", "error"), plus our code/message/hint
                return fail_json(terminal, exc, configured=False, error=neutralize(exc.message))
            raise
        if as_json:
            terminal.say(json_document(status_document(report), pretty=True))
        else:
            _rows(terminal, report, auth.service.ports.clock.now())
        return EXIT_FAIL if report.api_error else EXIT_OK

    return guarded(terminal, act)
