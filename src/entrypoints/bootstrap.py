"""The composition root: the one module that imports ``adapters`` and decides which adapter serves which port.

``build(settings, env, adapters)`` wires an :class:`AuthService`; any port can be replaced through
:class:`Adapters` (tests pass fakes there). Adapters are imported only when they are built, so a command pays only
for what it uses (the CLI's cold start is a measured goal). The CLI also gets its few pieces of technology here
(the JSON codec, a background thread), so that nothing else in ``entrypoints`` imports an adapter.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping

import attrs

from ..domain.value import Value
from .settings import Settings

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from threading import Thread

    from ..domain.api import UserInfo
    from ..domain.pkce import Entropy
    from ..domain.ports import (
        Browser,
        CallbackListener,
        Clock,
        CredentialStore,
        HttpTransport,
        ListenerFactory,
        Notify,
        Shield,
    )
    from ..domain.service import AuthService


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Adapters(Value):
    """Replacements for the real adapters; every one left ``None`` is built for real from the settings.

    Attributes:
        clock, http, browser, listen, store, entropy, notify, shield: one per port (see ``domain/ports.py``).
        passphrase_prompt: the encrypted store may ask for its passphrase at a hidden prompt on a terminal.
        warn: where the signal shield explains a first Ctrl-C (the CLI writes to stderr).
        split: the process is the CLI's own: a spend (a refresh, a code exchange) goes on in a child process that
            finishes the save even if this one is killed (``adapters/signals.py``). Never for a library's host.
    """

    clock: Clock | None = None
    http: HttpTransport | None = None
    browser: Browser | None = None
    listen: ListenerFactory | None = None
    store: CredentialStore | None = None
    entropy: Entropy | None = None
    notify: Notify | None = None
    shield: Shield | None = None
    passphrase_prompt: bool = False
    warn: Callable[[str], None] | None = None
    split: bool = False


# ---------------------------------------------------------------------------------------------- real adapters


def make_store(settings: Settings, env: Mapping[str, str], passphrase_prompt: bool = False) -> CredentialStore:
    """The store ``settings.store`` names: the plain JSON file, or the encrypted one beside it."""
    from ..adapters.credentials_file import CredentialsFile

    plain = CredentialsFile(settings.credentials_path)
    if settings.store == "encrypted":
        from ..adapters.encrypted_file import EncryptedCredentialsFile, env_or_prompt_passphrase
        from ..adapters.keyring_key import KeyringDataKey

        path = f"{settings.credentials_path}.enc"
        prompt = passphrase_prompt and sys.stdin.isatty()
        return EncryptedCredentialsFile(
            path,
            env_or_prompt_passphrase(env, prompt),
            keyring_key=KeyringDataKey(path),
            # A passphrase in the environment is an explicit choice; otherwise a keyring that answers is preferred.
            prefer_keyring=not env.get("HYPERFRAMES_CREDENTIALS_PASSPHRASE"),
            migrate_from=plain,  # the first encrypted write moves a plain file's content in, then removes it
        )
    return plain


def make_transport(settings: Settings, env: Mapping[str, str] | None = None) -> HttpTransport:
    """``stdlib`` (fast to import; the CLI) or ``httpx`` (the library's default); ``env`` names proxies and CAs."""
    trace = log_http if settings.trace else None
    if settings.transport == "httpx":
        from ..adapters.http_httpx import HttpxTransport

        return HttpxTransport(trace=trace, env=env)
    from ..adapters.http_stdlib import StdlibTransport

    return StdlibTransport(trace=trace, env=env)


class _OnFirstUse:
    """A port whose adapter is built the first time it is used: a command that never sends a request (``auth token``
    with a fresh token) never imports the HTTP stack or the signal handling."""

    def __init__(self, make: Callable[[], object]) -> None:
        self._make = make
        self._made: object | None = None

    def _target(self) -> object:
        if self._made is None:
            self._made = self._make()
        return self._made

    def __getattr__(self, name: str) -> object:
        return getattr(self._target(), name)

    def __call__(self, *args: object, **kwargs: object) -> object:
        return self._target()(*args, **kwargs)  # type: ignore[operator]


def _system_clock() -> Clock:
    from ..adapters.clock import SystemClock

    return SystemClock()


def _system_entropy(size: int) -> bytes:
    """``secrets.token_bytes``, imported on first use (read-only commands never draw entropy)."""
    from secrets import token_bytes

    return token_bytes(size)


def _system_browser(enabled: bool) -> Browser:
    """The system browser, built on first use (only a browser sign-in opens one)."""

    def open_url(url: str) -> bool:
        from ..adapters.browser import SystemBrowser

        return SystemBrowser(enabled=enabled)(url)

    return open_url


def _loopback_listener() -> CallbackListener:
    from ..adapters.listener import LoopbackCallbackListener

    return LoopbackCallbackListener()


def _read_user(payload: object) -> UserInfo:
    from ..adapters.codec import read_user_info

    return read_user_info(payload)


def _signal_shield(warn: Callable[[str], None] | None, split: bool) -> Shield:
    from ..adapters.signals import SignalShield

    return SignalShield(warn or _log_warning, split=split)


LOGGER = "hyperframes_auth"
VERBOSE_HANDLER = "hyperframes-verbose"


def library_logger() -> logging.Logger:
    """The ``hyperframes_auth`` logger, with the ``NullHandler`` a library gives its logger: a program that has not
    configured logging sees nothing (not Python's last-resort handler's copy of what the CLI already prints)."""
    import logging

    logger = logging.getLogger(LOGGER)
    if not any(isinstance(handler, logging.NullHandler) for handler in logger.handlers):
        logger.addHandler(logging.NullHandler())
    return logger


def log_http(line: str) -> None:
    """One request's trace line (method, URL without its query, status, time: never a header or a body), at DEBUG
    on the ``hyperframes_auth.http`` logger; ``--verbose`` shows that logger on stderr."""
    library_logger().getChild("http").debug(line)


def log_notice(notice: object) -> None:
    """What a sign-in or sign-out tells a person, for a library with no terminal: INFO on ``hyperframes_auth``
    (remarks, like a revocation that failed, at WARNING). Server text in them is already neutralised."""
    from ..domain.flow import Remark

    logger = library_logger()
    if isinstance(notice, Remark):
        logger.warning(notice.message)
    else:
        logger.info("%s", type(notice).__name__)


def show_log_on_stderr() -> None:
    """``--verbose``: the ``hyperframes_auth`` logger, at DEBUG, on stderr (once)."""
    import logging

    logger = library_logger()
    if not any(h.get_name() == VERBOSE_HANDLER for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.set_name(VERBOSE_HANDLER)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


def _log_warning(text: str) -> None:
    library_logger().warning(text)


def build(settings: Settings, env: Mapping[str, str] | None = None, adapters: Adapters | None = None) -> AuthService:
    """Wire an :class:`AuthService` from settings, with real adapters for every port not replaced."""
    from ..domain.ports import Ports
    from ..domain.service import AuthService

    env = os.environ if env is None else env
    given = adapters or Adapters()
    ports = Ports(
        clock=given.clock or _system_clock(),
        http=given.http or _OnFirstUse(lambda: make_transport(settings, env)),  # type: ignore[arg-type]
        browser=given.browser or _system_browser(not settings.no_browser),
        listen=given.listen or _loopback_listener,
        store=given.store or make_store(settings, env, given.passphrase_prompt),
        entropy=given.entropy or _system_entropy,
        read_user=_read_user,
        notify=given.notify or log_notice,
        shield=given.shield or _OnFirstUse(lambda: _signal_shield(given.warn, given.split)),  # type: ignore[arg-type]
    )
    return AuthService(settings.client(), ports, env, settings.api_url, settings.leeway)


# ---------------------------------------------------------------------------------------------- for the CLI


def json_document(value: object, *, pretty: bool = False) -> str:
    """A ``--json`` document through the one JSON codec."""
    from ..adapters.codec import dumps

    return dumps(value, pretty=pretty)


def background(target: Callable[[], object], name: str) -> Thread:
    """Run ``target`` on a daemon thread that leaves Ctrl-C to the main thread."""
    from ..adapters.threads import start_daemon

    return start_daemon(target, name=name)
