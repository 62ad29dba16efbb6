"""On a remote terminal, the sign-in says how to forward the listener's port, and the hint works as typed when the
listener had to fall back to IPv6 loopback: ``ssh -L <port>:[::1]:<port> <this host>`` (OpenSSH takes an IPv6
address in brackets; without them the colons would split it into the wrong fields)."""

from __future__ import annotations

import io
import re
import socket

import pytest

from hyperframes_auth.adapters.listener import LoopbackCallbackListener
from hyperframes_auth.domain.callback import Verdict
from hyperframes_auth.domain.errors import AuthError
from hyperframes_auth.domain.ports import WaitingForCallback
from hyperframes_auth.entrypoints.terminal import LoginConsole, Terminal

pytestmark = pytest.mark.contract


def hint_for(listener: LoopbackCallbackListener) -> tuple[str, str]:
    err = io.StringIO()
    terminal = Terminal(out=io.StringIO(), err=err, stdin=io.StringIO(""), env={"NO_COLOR": "1"})
    console = LoginConsole(terminal, remote=True)
    console(WaitingForCallback(listener.redirect_uri, 120.0, lambda _text: Verdict(kind="ignored")))
    console.finished()
    match = re.search(r"ssh -L (\S+) (.+)$", err.getvalue(), re.MULTILINE)
    assert match, err.getvalue()
    return match.group(1), match.group(2)


def test_the_ipv6_fallback_gives_a_bracketed_forward() -> None:
    try:
        listener = LoopbackCallbackListener(bind_ipv4=False)
    except AuthError as exc:  # an environment without IPv6 loopback
        pytest.skip(f"IPv6 loopback is not available here: {exc}")
    try:
        port = int(listener.redirect_uri.split("]:", 1)[1].split("/", 1)[0])
        assert listener.redirect_uri == f"http://[::1]:{port}/oauth/callback"
        forward, host = hint_for(listener)
        assert forward == f"{port}:[::1]:{port}"
        assert host == "<this host>"
        with socket.create_connection(("::1", port), timeout=2):  # what the forward would reach is listening
            pass
    finally:
        listener.close()


def test_the_ipv4_listener_gives_a_plain_forward() -> None:
    listener = LoopbackCallbackListener()
    try:
        port = int(listener.redirect_uri.rsplit(":", 1)[1].split("/", 1)[0])
        assert hint_for(listener) == (f"{port}:127.0.0.1:{port}", "<this host>")
    finally:
        listener.close()
