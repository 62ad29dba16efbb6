"""Accounts and environments: several sign-ins side by side, each bound to the place it came from.

An *environment* is where a credential was obtained: the origin of HeyGen's API (what access tokens and API keys
may be sent to) and, for OAuth, the token endpoint and client id that issued the refresh token (what a refresh
token may be sent to). An *account* is one person's credentials in one environment, named by the identity
``/v3/users/me`` gives (the email, else "first last", else the username); ``None`` while it is not known yet.

The credentials document keeps the TypeScript CLI's layout: its top-level ``api_key`` / ``oauth`` / ``user`` hold
exactly one account, the active account of the most recently used environment, so that CLI keeps working after
every command of ours. Everything else lives under one key of our own (``docs/ARCHITECTURE.md`` shows the file):
the top-level account's environment and identity (its *label*), the other accounts, and which account is active
in each environment.

Every function here is pure: a document in, the next document out.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import attrs

from .credentials import Account, CredentialsDocument, Environment, Label, UserProfile, fingerprint
from .primitives import origin_of

UNKNOWN = "(unknown user)"


def environment(api_url: str, token_url: str, client_id: str) -> Environment:
    """The environment a configuration targets."""
    return Environment(origin_of(api_url), token_url, client_id)


def same_place(held: Environment, target: Environment) -> bool:
    """The held credential belongs where the configuration points (the API origin decides)."""
    return held.api == target.api


def may_refresh(held: Environment, target: Environment) -> bool:
    """A refresh token goes only to the token endpoint, and for the client, that issued it."""
    return held.api == target.api and held.token_url == target.token_url and held.client_id == target.client_id


def host_of(api_origin: str) -> str:
    return urlsplit(api_origin).netloc or api_origin


# ---------------------------------------------------------------------------------------------- reading


def top_account(doc: CredentialsDocument) -> Account | None:
    """The account in the TypeScript CLI's slot, or ``None`` when that slot holds no credential."""
    if not (doc.api_key or doc.oauth):
        return None
    label = doc.label
    return Account(
        environment=label.environment if label else None,
        identity=label.identity if label else None,
        api_key=doc.api_key,
        oauth=doc.oauth,
        user=doc.user,
    )


def all_accounts(doc: CredentialsDocument) -> list[Account]:
    top = top_account(doc)
    return ([top] if top else []) + list(doc.others)


def accounts_in(doc: CredentialsDocument, target: Environment) -> list[Account]:
    """Every account of ``target``'s environment; an unlabelled top-level account counts as belonging to it."""
    return [a for a in all_accounts(doc) if a.environment is None or same_place(a.environment, target)]


def active_identity(doc: CredentialsDocument, target: Environment) -> str | None:
    return doc.active.get(target.api)


def find(doc: CredentialsDocument, target: Environment, identity: str | None) -> Account | None:
    """The account of ``target`` named ``identity`` (matching case-insensitively), if there is one."""
    wanted = (identity or "").lower()
    for account in accounts_in(doc, target):
        if (account.identity or "").lower() == wanted:
            return account
    return None


def active_account(doc: CredentialsDocument, target: Environment) -> Account | None:
    """The account commands use in ``target``: the one marked active, else the top-level one if it belongs there,
    else the first of that environment."""
    candidates = accounts_in(doc, target)
    if not candidates:
        return None
    if target.api in doc.active:
        named = find(doc, target, doc.active[target.api])
        if named is not None:
            return named
    top = top_account(doc)
    if top is not None and (top.environment is None or same_place(top.environment, target)):
        return top
    return candidates[0]


def other_environments(doc: CredentialsDocument, target: Environment) -> list[str]:
    """API origins that hold accounts, other than ``target``'s (to say where the person *is* signed in)."""
    seen: list[str] = []
    for account in all_accounts(doc):
        env = account.environment
        if env is not None and not same_place(env, target) and env.api not in seen:
            seen.append(env.api)
    return seen


# ---------------------------------------------------------------------------------------------- writing


def _is(account: Account, target: Environment, identity: str | None) -> bool:
    env = account.environment
    return env is not None and same_place(env, target) and (account.identity or "").lower() == (identity or "").lower()


def _without(accounts: list[Account], target: Environment, identity: str | None) -> list[Account]:
    return [a for a in accounts if not _is(a, target, identity)]


def _assemble(
    doc: CredentialsDocument, top: Account | None, others: list[Account], active: dict[str, str]
) -> CredentialsDocument:
    return attrs.evolve(
        doc,
        api_key=top.api_key if top else None,
        oauth=top.oauth if top else None,
        user=top.user if top else None,
        label=Label(top.environment, top.identity, fingerprint(top.api_key) if top.api_key else None)
        if top and top.environment
        else None,
        others=tuple(others),
        active=active,
    )


def labelled(doc: CredentialsDocument, target: Environment) -> CredentialsDocument:
    """A file written before accounts existed belongs to the environment it is first used with, then says so.

    Its identity is the cached profile's name, when there is one. A labelled slot whose profile now names someone
    else (the TypeScript CLI signed another person in there) is relabelled after them.
    """
    top = top_account(doc)
    if top is None:
        return doc
    if top.environment is not None:
        return _relabelled(doc, top)
    identity = doc.user.display_name() if doc.user else None
    env = target if doc.oauth else Environment(target.api)
    labelled_top = attrs.evolve(top, environment=env, identity=identity)
    active = dict(doc.active)
    active.setdefault(target.api, identity or "")
    return _assemble(doc, labelled_top, list(doc.others), active)


def _relabelled(doc: CredentialsDocument, top: Account) -> CredentialsDocument:
    """The TypeScript CLI signed someone else into its slot (its ``user`` block now names them).

    Its ``login --api-key`` replaces the key and the profile and keeps the OAuth session; its browser or device
    login replaces the OAuth session and the profile and keeps the key. Which one happened shows in the key's
    fingerprint: the new credential becomes the named person's account (merged with one they already had), and
    what was there before stays with its previous owner.
    """
    shown = doc.user.display_name() if doc.user else None
    env = top.environment
    if not shown or top.identity is None or shown.lower() == top.identity.lower() or env is None:
        return doc
    key_is_new = top.api_key is not None and (doc.label is None or doc.label.api_key_print != fingerprint(top.api_key))
    if key_is_new:
        arrived = Account(Environment(env.api), shown, api_key=top.api_key, user=doc.user)
        stayed = attrs.evolve(top, api_key=None, user=None)
    else:
        arrived = attrs.evolve(top, identity=shown, api_key=None)
        stayed = Account(Environment(env.api), top.identity, api_key=top.api_key)
    others = [a for a in doc.others if not _is(a, env, shown)]
    twin = next((a for a in doc.others if _is(a, env, shown)), None)
    if twin is not None:
        arrived = merge(twin, arrived)
    if stayed.api_key or stayed.oauth:
        others.append(stayed)
    active = {**doc.active, env.api: shown}
    return _assemble(doc, arrived, others, active)


def promoted(doc: CredentialsDocument, target: Environment, identity: str | None = None) -> CredentialsDocument:
    """``target``'s active account (or ``identity``'s) moved to the top level, the previous one kept aside.

    This is what "the most recently used environment" means: after any command of ours in ``target``, the
    TypeScript CLI (which knows no environments) sees the account we used.
    """
    doc = labelled(doc, target)
    chosen = find(doc, target, identity) if identity is not None else active_account(doc, target)
    top = top_account(doc)
    if chosen is None or chosen == top:
        return doc
    others = [a for a in all_accounts(doc) if a != chosen]
    return _assemble(doc, chosen, others, dict(doc.active))


def with_account(doc: CredentialsDocument, account: Account) -> CredentialsDocument:
    """Add ``account`` (or merge it into the same person's account in that environment) and make it active.

    Merging keeps what the new sign-in did not bring: an API-key sign-in keeps the account's OAuth tokens, an
    OAuth sign-in keeps its API key, and unknown fields stay.
    """
    target = account.environment
    if target is None:
        raise ValueError("a new account names its environment")
    doc = labelled(doc, target)
    existing = find(doc, target, account.identity) if account.identity is not None else None
    if existing is None and account.identity is None:
        # An unnamed sign-in joins an unnamed account only when it replaces nothing there: nobody knows yet whether
        # they are the same person, and a credential dropped here would stay valid at the server.
        existing = next(
            (
                a
                for a in accounts_in(doc, target)
                if a.identity is None and not (a.oauth and account.oauth) and not (a.api_key and account.api_key)
            ),
            None,
        )
    if existing is not None:
        account = merge(existing, account)
        rest = [a for a in all_accounts(doc) if a != existing]
    else:
        rest = all_accounts(doc)
    active = {**doc.active, target.api: account.identity or ""}
    return _assemble(doc, account, rest, active)


def merge(old: Account, new: Account) -> Account:
    """The same person signing in again: the new credentials replace their kind, the rest stays."""
    user = new.user or old.user
    if user is not None and old.user is not None and new.user is not None:
        user = attrs.evolve(new.user, extra={**old.user.extra, **new.user.extra})
    env = new.environment if new.oauth else (old.environment if old.oauth else new.environment)
    return attrs.evolve(
        new,
        environment=env,
        api_key=new.api_key or old.api_key,
        oauth=new.oauth or old.oauth,
        user=user,
        extra={**old.extra, **new.extra},
    )


def _drop(doc: CredentialsDocument, account: Account) -> CredentialsDocument:
    """``account`` taken out, nothing else changed."""
    top = top_account(doc)
    if top == account:
        return _assemble(doc, None, list(doc.others), dict(doc.active))
    return _assemble(doc, top, [a for a in doc.others if a != account], dict(doc.active))


def _of(account: Account | None, env: Environment) -> bool:
    return account is not None and account.environment is not None and same_place(account.environment, env)


def replaced(doc: CredentialsDocument, old: Account, new: Account | None) -> CredentialsDocument:
    """``old`` (wherever it is stored) replaced by ``new``, or removed with ``None`` (as it is when ``new`` holds no
    credential). When the active account goes, the next account of its environment becomes active, and fills the
    top-level slot if that is now empty (so the TypeScript CLI keeps working)."""
    if new is not None and not (new.api_key or new.oauth):
        new = None
    top = top_account(doc)
    if top == old:
        top = new
        others = list(doc.others)
    else:
        others = [a for a in (new if a == old else a for a in doc.others) if a is not None]
    active = dict(doc.active)
    env = old.environment
    if new is None and env is not None:
        remaining = [a for a in ([top] if top else []) + others if _of(a, env)]
        if (active.get(env.api) or "").lower() == (old.identity or "").lower():
            if remaining:
                active[env.api] = remaining[0].identity or ""
            else:
                active.pop(env.api, None)
        if top is None and remaining:
            top = remaining[0]
            others = [a for a in others if a != top]
    return _assemble(doc, top, others, active)


def identified(
    doc: CredentialsDocument,
    target: Environment,
    holds: Callable[[Account], bool],
    identity: str,
    user: UserProfile,
) -> CredentialsDocument:
    """Name the account holding ``tokens`` after a sign-in's ``/v3/users/me`` answer. The identity in the file
    always belongs to the tokens beside it: if another sign-in replaced them meanwhile, nothing changes. An older
    account of the same person in that environment is merged into it."""
    doc = labelled(doc, target)
    holder = next((a for a in accounts_in(doc, target) if holds(a)), None)
    if holder is None:
        return doc
    named = attrs.evolve(holder, identity=identity, user=holder.user if user.is_empty() else user)
    return with_account(_drop(doc, holder), named)


def switched(doc: CredentialsDocument, target: Environment, identity: str) -> CredentialsDocument:
    """Make ``identity`` the active account of ``target`` (and the top-level one)."""
    doc = labelled(doc, target)
    chosen = find(doc, target, identity)
    if chosen is None:
        return doc
    active = {**doc.active, target.api: chosen.identity or ""}
    return promoted(attrs.evolve(doc, active=active), target, chosen.identity)
