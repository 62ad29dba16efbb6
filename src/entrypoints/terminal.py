"""The terminal: output streams, input, colour, prompts, a live waiting line, and what a sign-in shows a person.

Conventions: results on stdout, diagnostics on stderr. Each stream decides about colour for itself: ``NO_COLOR``
(set and not empty) turns it off, ``FORCE_COLOR`` (other than ``0``) turns it on, otherwise only a terminal gets it.
Nothing a server sent is printed without going through ``neutralize``. One live line (the time left) is drawn on a
terminal's stderr while a sign-in waits, and only while nobody types on that terminal.
"""

from __future__ import annotations

import os
import sys

from ..domain.errors import AuthError
from ..domain.redact import neutralize

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import TextIO

    from ..domain.ports import DeviceCodeIssued, Notice, WaitingForCallback
    from .bootstrap import Adapters

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def isatty(stream: object) -> bool:
    check = getattr(stream, "isatty", None)
    try:
        return bool(check and check())
    except ValueError:  # a closed stream
        return False


def truthy(value: str | None) -> bool:
    """An environment flag that is set to something other than empty, ``0``, ``false`` or ``no``."""
    return (value or "").strip().lower() not in ("", "0", "false", "no")


def writable(text: str, stream: object) -> str:
    """``text`` as ``stream`` can take it: whatever its encoding cannot encode becomes a backslash escape.

    A lone surrogate (a server's ``\\udc9b`` in an identity field, kept as data) would otherwise crash the
    write, or, under the ``surrogateescape`` handler Python gives stdout in a C or POSIX locale, go out as a raw
    byte (0x9B is a C1 control: CSI). A terminal whose encoding lacks a character (``PYTHONIOENCODING=ascii``)
    gets its escape too. Inside a JSON string (``--json``) the escape means the same code point, so the document
    stays valid JSON.
    """
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return text.encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:
        return writable(text, None)
    return text


def _colour(stream: object, env: Mapping[str, str]) -> bool:
    if env.get("NO_COLOR"):  # set and not empty, as no-color.org defines it
        return False
    force = env.get("FORCE_COLOR")
    if force is not None and force != "":
        return force != "0"
    return isatty(stream) and env.get("TERM") != "dumb"


class Terminal:
    """The streams a command talks to, the environment it runs in, and the adapters to build it with.

    Args:
        out, err, stdin: the streams (``sys``'s by default).
        env: the environment (``os.environ`` by default).
        adapters: replacements for real adapters (tests pass fakes; ``None`` in normal use).
        own_process: the ``hyperframes`` command's own process (set by the console script, never by a test or a
            library): a refresh or a code exchange may then finish in a child process that outlives a kill of this
            one (``Adapters.split``).
    """

    def __init__(
        self,
        out: TextIO | None = None,
        err: TextIO | None = None,
        stdin: TextIO | None = None,
        env: Mapping[str, str] | None = None,
        adapters: Adapters | None = None,
        *,
        own_process: bool = False,
    ) -> None:
        self._out, self._err, self._stdin = out, err, stdin
        self.env = os.environ if env is None else env
        self.adapters = adapters
        self.own_process = own_process
        self._live: str | None = None
        self._lock = _Lock()

    # The process's streams are looked up when used, so a terminal made early still writes where ``sys`` points.
    @property
    def out(self) -> TextIO:
        return self._out or sys.stdout

    @property
    def err(self) -> TextIO:
        return self._err or sys.stderr

    @property
    def stdin(self) -> TextIO:
        return self._stdin or sys.stdin

    @property
    def out_colour(self) -> bool:
        return _colour(self.out, self.env)

    @property
    def err_colour(self) -> bool:
        return _colour(self.err, self.env)

    # ------------------------------------------------------------------------------------------ writing

    def say(self, text: str = "") -> None:
        with self._lock:
            self._clear_live()
            print(writable(text, self.out), file=self.out, flush=True)

    def warn(self, text: str) -> None:
        with self._lock:
            self._clear_live()
            print(writable(text, self.err), file=self.err, flush=True)

    def paint(self, text: str, code: str, *, err: bool = True) -> str:
        on = self.err_colour if err else self.out_colour
        return f"\x1b[{code}m{text}\x1b[0m" if on else text

    def ok(self, text: str) -> None:
        self.say(f"{self.paint('✓', '32', err=False)} {text}")

    def fail(self, error: AuthError, prefix: str = "") -> int:
        """Print an error as one line of message and one of hint; return its exit code."""
        self.warn(self.paint(f"{prefix}{neutralize(error.message)}", "31"))
        if error.hint:
            self.warn(neutralize(error.hint))
        return error.exit_code

    # ------------------------------------------------------------------------------------------ the live line

    def live(self, text: str | None) -> None:
        """Show ``text`` as the one live line on stderr (a terminal only), replacing the last; ``None`` clears it."""
        if not isatty(self.err):
            return
        with self._lock:
            self._clear_live()
            if text:
                self.err.write(text)
                self.err.flush()
                self._live = text

    def _clear_live(self) -> None:
        if self._live is not None:
            self.err.write("\r\x1b[2K")
            self.err.flush()
            self._live = None

    # ------------------------------------------------------------------------------------------ input

    def interactive(self) -> bool:
        """A person is at this terminal (stdin and stdout are terminals)."""
        return isatty(self.stdin) and isatty(self.out)

    def in_ci(self) -> bool:
        return truthy(self.env.get("CI"))

    def confirm(self, question: str) -> bool:
        """Ask a yes/no question on a terminal; anything but ``y``/``yes`` (and no terminal at all) is no.

        Ctrl-C is not an answer: it ends the line and propagates, so the command ends as interrupted (130)."""
        if not isatty(self.stdin):
            return False
        print(writable(question, self.out), end="", file=self.out, flush=True)
        try:
            answer = self.stdin.readline()
        except EOFError:
            return False
        except KeyboardInterrupt:
            print(file=self.out, flush=True)
            raise
        return answer.strip().lower() in ("y", "yes")

    def hide_typing(self) -> Callable[[], None]:
        """Stop a terminal on stdin from echoing what is typed, and return what turns the echo back on.

        While a live line is drawn, an echoed Enter would push it up a line and leave a stale copy behind. Nothing
        changes (and the undo does nothing) when stdin is not a terminal, or where there is no ``termios``.
        """
        try:
            import termios
        except ImportError:  # pragma: no cover - Windows: no termios, the echo stays as it is
            return _nothing
        try:
            fd = self.stdin.fileno()
            saved = termios.tcgetattr(fd)
            quiet = list(saved)
            quiet[3] &= ~termios.ECHO  # the local modes
            termios.tcsetattr(fd, termios.TCSANOW, quiet)
        except (OSError, ValueError, AttributeError, termios.error):  # not a terminal, or a closed stream
            return _nothing

        def restore() -> None:
            import contextlib

            with contextlib.suppress(OSError, termios.error):  # the terminal went away: nothing to restore
                termios.tcsetattr(fd, termios.TCSANOW, saved)

        return restore


def _nothing() -> None:
    """An undo with nothing to undo."""


class _Lock:
    """A lock made on first use: most commands never write from two threads, and never import ``threading``.

    Reentrant: a signal handler that writes a line (the first Ctrl-C during a save) runs in the main thread, and
    may interrupt that same thread in the middle of a write.
    """

    def __init__(self) -> None:
        self._lock: object | None = None

    def __enter__(self) -> None:
        if self._lock is None:
            import threading

            self._lock = threading.RLock()
        self._lock.__enter__()  # type: ignore[attr-defined]

    def __exit__(self, *exc: object) -> None:
        self._lock.__exit__(*exc)  # type: ignore[union-attr]


class Countdown:
    """One live line with the time left, redrawn every second on a terminal until stopped."""

    def __init__(self, terminal: Terminal, label: str, seconds: float) -> None:
        import threading
        import time

        self._terminal = terminal
        self._label = label
        self._clock = time.monotonic
        self._until = time.monotonic() + seconds
        self._stop = threading.Event()

    def start(self) -> Countdown:
        if isatty(self._terminal.err):
            from .bootstrap import background

            background(self._tick, name="hf-countdown")
        return self

    def _tick(self) -> None:
        while not self._stop.is_set():
            left = max(0, int(self._until - self._clock()))
            self._terminal.live(f"{self._label} ({left // 60}:{left % 60:02d} left)")
            self._stop.wait(1.0)

    def stop(self) -> None:
        self._stop.set()
        self._terminal.live(None)


class LoginConsole:
    """Turns the core's notices into what a person sees during a sign-in, and takes a pasted redirect URL.

    Args:
        terminal: where to write and read.
        remote: the browser is on another machine (SSH, ``--no-browser``): say so, and read pasted URLs at once.
        offer_browser: for a device code, offer to open the verification page (Enter) with this function.
    """

    def __init__(
        self,
        terminal: Terminal,
        remote: bool = False,
        offer_browser: Callable[[str], bool] | None = None,
    ) -> None:
        self.terminal = terminal
        self.remote = remote
        self.offer_browser = offer_browser
        self._countdown: Countdown | None = None
        self._submit: Callable[[str], object] | None = None
        self._redirect_uri: str | None = None
        self._pasting = False
        self._needs_paste = remote
        self._restore_echo: Callable[[], None] = _nothing

    def __call__(self, notice: Notice) -> None:
        from ..domain import ports
        from ..domain.flow import Remark

        t = self.terminal
        if isinstance(notice, ports.BrowserOpening):
            if not self.remote:
                t.say(f"Opening browser to {neutralize(notice.endpoint)} ...")
        elif isinstance(notice, ports.BrowserUnavailable):
            if self.remote:
                t.warn("Open this URL in a browser to continue:")
            else:
                t.warn("Could not open a browser. Open this URL in a browser to continue:")
            t.warn(f"  {notice.url}")
            self._needs_paste = True
        elif isinstance(notice, ports.WaitingForCallback):
            self._waiting(notice)
        elif isinstance(notice, ports.CallbackIgnored):
            t.warn(t.paint(f"Warning: {neutralize(notice.reason)}.", "33"))
        elif isinstance(notice, ports.DeviceCodeIssued):
            self._device_code(notice)
        elif isinstance(notice, Remark):
            t.warn(t.paint(f"Note: {neutralize(notice.message)}", "2"))

    def finished(self) -> None:
        """The sign-in is over: clear the live line, and let the terminal echo typing again."""
        if self._countdown is not None:
            self._countdown.stop()
            self._countdown = None
        self._restore_echo()
        self._restore_echo = _nothing

    # ------------------------------------------------------------------------------------------ browser

    def _waiting(self, notice: WaitingForCallback) -> None:
        self._redirect_uri = notice.redirect_uri
        self._submit = notice.submit
        self.terminal.say(f"Waiting for callback on {notice.redirect_uri} ...")
        if self._needs_paste:
            self._start_paste_prompt()
        if self._pasting and isatty(self.terminal.stdin):
            # The person types (pastes) on this terminal: a line redrawn every second would wipe what they type.
            left = int(notice.timeout)
            self.terminal.warn(f"(This sign-in waits {left // 60}:{left % 60:02d} for the address.)")
            return
        self._countdown = Countdown(self.terminal, "Waiting for the browser", notice.timeout).start()

    def _start_paste_prompt(self) -> None:
        if self._pasting:
            return
        self._pasting = True
        from urllib.parse import urlsplit

        parts = urlsplit(self._redirect_uri or "http://127.0.0.1:0/")
        host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
        self.terminal.warn(
            "This terminal looks remote or headless. After you sign in, the browser is sent to the address above.\n"
            "  - If that page cannot load (the browser is on another machine), copy the whole address from the\n"
            "    browser's address bar and paste it here, then press Enter.\n"
            f"  - Or forward the port first: ssh -L {parts.port}:{host}:{parts.port} <this host>\n"
            "  - Or run `hyperframes auth login --device` instead.",
        )
        from .bootstrap import background

        background(self._read_pastes, name="hf-paste")

    def _read_pastes(self) -> None:
        for line in self.terminal.stdin:
            text = line.strip()
            if not text:
                continue
            if "?" not in text:
                self.terminal.warn(
                    "Paste the whole address from the address bar: it holds the state as well as the code."
                )
                continue
            if self._submit is not None:
                self._submit(text)

    # ------------------------------------------------------------------------------------------ device

    def _device_code(self, notice: DeviceCodeIssued) -> None:
        device = notice.device
        t = self.terminal
        uri, code = neutralize(device.verification_uri), neutralize(device.user_code)
        t.say(f"To sign in, open {uri} and enter the code: {code}")
        if device.verification_uri_complete:
            t.say(f"  (or open {neutralize(device.verification_uri_complete)})")
        page = device.verification_uri_complete or device.verification_uri
        if self.offer_browser is not None and t.interactive() and not self.remote:
            t.say("Press Enter to open it in your browser.")
            from .bootstrap import background

            opener = self.offer_browser
            self._restore_echo = t.hide_typing()  # the Enter must not push the live line up

            def wait_for_enter() -> None:
                if t.stdin.readline() and not opener(page):
                    t.warn("Could not open a browser: open the address above yourself.")

            background(wait_for_enter, name="hf-device-enter")
        t.say("Waiting for approval ...")
        self._countdown = Countdown(t, "Waiting for approval", device.expires_in).start()
