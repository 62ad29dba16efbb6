"""The composition root: the only place that knows which adapter implements which port.

``build(settings, env, **overrides)`` wires real adapters into an :class:`AuthService`; any port can be replaced
by passing it (the facade's tests pass fakes and a fake clock). Adapters are imported only when they are built,
so a command pays only for what it uses.
"""

from __future__ import annotations

import os
import sys

from ..domain.config import Settings
from ..domain.service import AuthService, Ports

TYPE_CHECKING = False  # keep `typing` off the CLI's fast paths; type checkers know this name
if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..domain.driver import Notify
    from ..domain.machine import ClientConfig
    from ..domain.pkce import Entropy
    from ..domain.ports import Browser, Clock, CredentialStore, HttpTransport, ListenerFactory


def make_store(settings: Settings, env: Mapping[str, str], passphrase_prompt: bool = False) -> CredentialStore:
    """The store ``settings.store`` names: the plain JSON file, or the encrypted one beside it.

    Args:
        passphrase_prompt: the encrypted store may ask for its passphrase at a hidden prompt (on a TTY only)
            when ``HYPERFRAMES_CREDENTIALS_PASSPHRASE`` is not set and no OS keyring holds its key.
    """
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
        )
    from ..adapters.credentials_file import CredentialsFile

    return CredentialsFile(settings.credentials_path)


def make_transport(kind: str, verbose: bool, env: Mapping[str, str] | None = None) -> HttpTransport:
    """``stdlib`` (fast to import; the CLI) or ``httpx`` (the facade's default); ``env`` names proxies and CAs."""
    from ..adapters.http_policy import stderr_trace

    trace = stderr_trace if verbose else None
    if kind == "httpx":
        from ..adapters.http_httpx import HttpxTransport

        return HttpxTransport(trace=trace, env=env)
    from ..adapters.http_stdlib import StdlibTransport

    return StdlibTransport(trace=trace, env=env)


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


def _loopback_listener() -> ListenerFactory:
    def listen() -> object:
        from ..adapters.listener import LoopbackCallbackListener

        return LoopbackCallbackListener()

    return listen  # type: ignore[return-value]


def client_config(settings: Settings, **overrides: float | None) -> ClientConfig:
    """The machine's view of the OAuth client; ``None`` overrides keep the defaults."""
    from ..domain.machine import ClientConfig

    return ClientConfig.from_settings(settings, **{k: v for k, v in overrides.items() if v is not None})


def build(
    settings: Settings,
    env: Mapping[str, str] | None = None,
    *,
    clock: Clock | None = None,
    http: HttpTransport | None = None,
    transport: str = "stdlib",
    browser: Browser | None = None,
    listen: ListenerFactory | None = None,
    store: CredentialStore | None = None,
    entropy: Entropy | None = None,
    notify: Notify | None = None,
    passphrase_prompt: bool = False,
    open_browser: bool = True,
    leeway: float = 60.0,
    login_timeout: float | None = None,
    device_min_interval: float | None = None,
    timeout: float | None = None,
) -> AuthService:
    """Wire an :class:`AuthService` from settings, with real adapters for every port not given."""
    env = os.environ if env is None else env
    ports = Ports(
        clock=clock or _system_clock(),
        http=http or make_transport(transport, settings.verbose, env),
        browser=browser or _system_browser(open_browser and not settings.no_browser),
        listen=listen or _loopback_listener(),
        store=store or make_store(settings, env, passphrase_prompt),
        entropy=entropy or _system_entropy,
        notify=notify,
    )

    def config() -> ClientConfig:
        overrides = {
            "login_timeout": login_timeout,
            "device_min_interval": device_min_interval,
            "token_timeout": timeout,
        }
        return client_config(settings, **overrides)

    service = AuthService(config, ports, env, settings.userinfo_url, leeway)
    if timeout is not None:
        service.timeout = timeout
    return service
