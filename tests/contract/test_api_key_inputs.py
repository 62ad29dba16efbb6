"""An API key that cannot be a key is refused the same way wherever it comes from: the ``--api-key=`` flag, the
hidden prompt (a real pseudo-terminal), stdin, and the environment (``HEYGEN_API_KEY``, ``HYPERFRAMES_API_KEY``).

A key must be visible ASCII (no control character, no space, nothing else) and at most 4096 characters. Each
refusal is one line of message and one line of hint, exit 1, no traceback, nothing stored and nothing sent (the API
URL points at a port where nothing listens, so a request would show up as a network error instead).
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from .test_cli_e2e import HYPERFRAMES

pytestmark = pytest.mark.contract

BAD_KEYS: dict[str, tuple[bytes, str]] = {
    "space": (b"hg_key with_space_1", "API key must not contain spaces or non-ASCII characters."),
    "tab": (b"hg_key\twith_tab_1", "API key must not contain newline or control characters."),
    "control": (b"hg_key\x01control_1", "API key must not contain newline or control characters."),
    "escape": (b"hg_key\x1b[2Jclear_1", "API key must not contain newline or control characters."),
    "non-ascii": ("hg_ключ_ключ_1".encode(), "API key must not contain spaces or non-ASCII characters."),
    "not utf-8": (b"hg_key_\xff\xfe_bytes_1", "API key must not contain spaces or non-ASCII characters."),
    "too long": (b"h" * 4097, "API key is too long (got 4097 chars, at most 4096)."),
}
ENV_PROBLEMS = {
    "space": "contains spaces or non-ASCII characters",
    "tab": "contains control characters",
    "control": "contains control characters",
    "escape": "contains control characters",
    "non-ascii": "contains spaces or non-ASCII characters",
    "not utf-8": "contains spaces or non-ASCII characters",
    "too long": "is too long (got 4097 chars, at most 4096)",
}


def dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEYGEN_", "HYPERFRAMES_", "SSH_")) and k != "CI"}
    return {
        **env,
        "HEYGEN_API_URL": f"http://127.0.0.1:{dead_port()}",
        "HEYGEN_CONFIG_DIR": str(tmp_path / "config"),
        "NO_COLOR": "1",
    }


def run(env: dict[str, str | bytes], args: list[bytes], stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [HYPERFRAMES.encode(), *args], env=env, input=stdin, capture_output=True, timeout=60, check=False
    )


def assert_refused(result: subprocess.CompletedProcess[bytes], message: str, hint: str, tmp_path: Path) -> None:
    err = result.stderr.decode("utf-8", "surrogateescape").splitlines()
    assert result.returncode == 1, err
    assert "Traceback" not in result.stderr.decode("utf-8", "replace")
    assert err[-2:] == [message, hint]
    assert result.stdout == b""
    assert not (tmp_path / "config" / "credentials").exists()


@pytest.mark.parametrize("case", BAD_KEYS)
def test_from_the_flag(tmp_path: Path, case: str) -> None:
    key, message = BAD_KEYS[case]
    result = run(base_env(tmp_path), [b"auth", b"login", b"--api-key=" + key])
    assert_refused(result, message, "Check what you pasted.", tmp_path)
    lines = result.stderr.decode("utf-8", "surrogateescape").splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("Warning: a key given on the command line is visible")


@pytest.mark.parametrize("case", BAD_KEYS)
def test_from_stdin(tmp_path: Path, case: str) -> None:
    key, message = BAD_KEYS[case]
    result = run(base_env(tmp_path), [b"auth", b"login", b"--api-key"], stdin=key + b"\n")
    assert_refused(result, message, "Check what you pasted.", tmp_path)
    assert len(result.stderr.splitlines()) == 2


@pytest.mark.parametrize("variable", ["HEYGEN_API_KEY", "HYPERFRAMES_API_KEY"])
@pytest.mark.parametrize("case", BAD_KEYS)
@pytest.mark.parametrize("command", ["status", "token"])
def test_from_the_environment(tmp_path: Path, case: str, variable: str, command: str) -> None:
    key, _ = BAD_KEYS[case]
    env: dict[str, str | bytes] = {**base_env(tmp_path), variable: key}
    result = run(env, [b"auth", command.encode()])
    assert_refused(
        result,
        f"{variable} is not a usable credential: it {ENV_PROBLEMS[case]}",
        f"Fix or unset {variable}.",
        tmp_path,
    )
    assert len(result.stderr.splitlines()) == 2


def test_too_short_and_empty_are_refused_too(tmp_path: Path) -> None:
    short = run(base_env(tmp_path), [b"auth", b"login", b"--api-key"], stdin=b"hg_1234\n")
    assert_refused(short, "API key looks too short (got 7 chars).", "Check what you pasted.", tmp_path)
    empty = run(base_env(tmp_path), [b"auth", b"login", b"--api-key"], stdin=b"\n")
    assert_refused(empty, "No API key provided.", "Pipe the key on stdin or type it at the prompt.", tmp_path)


# A pseudo-terminal's line discipline acts on some control characters itself (DEL erases, ^C interrupts, ^U kills
# the line...), and a canonical-mode line holds at most 4095 bytes: at the prompt we type the ones it passes on.
PROMPTED = ("space", "tab", "control", "escape", "non-ascii")


@pytest.mark.parametrize("case", PROMPTED)
def test_at_the_hidden_prompt_three_tries_then_the_same_refusal(tmp_path: Path, case: str) -> None:
    import pexpect

    key, message = BAD_KEYS[case]
    env = base_env(tmp_path)
    child = pexpect.spawn(HYPERFRAMES, ["auth", "login", "--api-key"], env=env, timeout=30)
    try:
        for attempt in range(3):
            child.expect("Enter HeyGen API key: ")
            child.sendline(key)
            if attempt < 2:
                child.expect_exact(message)  # said, and asked again
        child.expect(pexpect.EOF)
        seen = (child.before or b"").decode("utf-8", "replace")
    finally:
        child.close()
    assert child.exitstatus == 1
    assert seen.splitlines()[-2:] == [message, "Check what you pasted."]
    assert "Traceback" not in seen
    assert key.decode("utf-8", "replace") not in seen  # never echoed
    assert not (tmp_path / "config" / "credentials").exists()
