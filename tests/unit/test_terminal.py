"""The terminal's own guarantees: nothing it writes can crash on the stream's encoding or go out as raw bytes, and
Ctrl-C at a question is an interruption, not a "no"."""

from __future__ import annotations

import io
import json

import pytest

from hyperframes_auth.entrypoints.terminal import Terminal, writable


def stream(encoding: str, errors: str = "strict") -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding=encoding, errors=errors, write_through=True)


def written(out: io.TextIOWrapper) -> bytes:
    return out.buffer.getvalue()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("encoding", "errors"), [("utf-8", "strict"), ("utf-8", "surrogateescape"), ("ascii", "strict")]
)
def test_say_and_warn_never_fail_on_the_encoding_nor_write_raw_bytes(encoding: str, errors: str) -> None:
    out, err = stream(encoding, errors), stream(encoding, errors)
    terminal = Terminal(out=out, err=err, env={})
    terminal.say("✓ alice\udc9b\udc1b\ud800 josé")
    terminal.warn("\udc9b")
    for data in (written(out), written(err)):
        assert b"\x9b" not in data
        assert b"\\udc9b" in data
    if encoding == "ascii":
        assert written(out) == b"\\u2713 alice\\udc9b\\udc1b\\ud800 jos\\xe9\n"


def test_a_json_document_with_lone_surrogates_stays_json_with_the_same_values() -> None:
    value = {"email": "a\udc9b\ud800b", "name": "josé"}
    out = stream("utf-8", "surrogateescape")
    Terminal(out=out, env={}).say(json.dumps(value, ensure_ascii=False))
    assert json.loads(written(out)) == value


def test_text_the_stream_can_take_is_left_alone() -> None:
    assert writable("✓ josé 日本", io.StringIO()) == "✓ josé 日本"
    assert writable("plain", stream("ascii")) == "plain"


class _InterruptedTty(io.StringIO):
    def isatty(self) -> bool:
        return True

    def readline(self, _size: int = -1) -> str:
        raise KeyboardInterrupt


class _ClosedTty(_InterruptedTty):
    def readline(self, _size: int = -1) -> str:
        raise EOFError


def test_ctrl_c_at_a_question_interrupts_and_ctrl_d_answers_no() -> None:
    out = io.StringIO()
    with pytest.raises(KeyboardInterrupt):
        Terminal(out=out, stdin=_InterruptedTty(), env={}).confirm("Continue? [y/N] ")
    assert out.getvalue() == "Continue? [y/N] \n"  # the line is ended, so "Aborted." starts on its own
    assert Terminal(out=io.StringIO(), stdin=_ClosedTty(), env={}).confirm("Continue? [y/N] ") is False


def test_a_line_written_while_another_is_being_written_in_the_same_thread_does_not_hang() -> None:
    """A signal handler (the first Ctrl-C during a save says what is happening) runs in the main thread and can
    interrupt it in the middle of writing a line: the terminal's lock must let that thread write again."""
    import threading

    class Interrupted(io.StringIO):
        def __init__(self) -> None:
            super().__init__()
            self.interrupted = False

        def write(self, text: str) -> int:
            if not self.interrupted:
                self.interrupted = True
                terminal.warn("written by the handler")  # as if a signal landed inside this write
            return super().write(text)

    err = Interrupted()
    terminal = Terminal(out=io.StringIO(), err=err, env={})
    writer = threading.Thread(target=terminal.warn, args=("the line being written",), daemon=True)
    writer.start()
    writer.join(5)
    assert not writer.is_alive(), "the second write waited for a lock its own thread holds"
    assert "written by the handler" in err.getvalue()
    assert "the line being written" in err.getvalue()
