"""Rewrite the generated state diagram in docs/ARCHITECTURE.md; see scripts/diagram."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from hyperframes_auth.domain.machine import mermaid

DOC = Path(__file__).resolve().parents[1] / "docs" / "ARCHITECTURE.md"
SECTION = re.compile(r"(?<=<!-- machine:begin -->\n).*?(?=<!-- machine:end -->)", re.DOTALL)


def rewritten(text: str) -> str:
    """``text`` with the one section between the markers replaced by the current diagram."""
    block = f"```mermaid\n{mermaid()}```\n"
    new, count = SECTION.subn(lambda _match: block, text)
    if count != 1:
        sys.exit(f"{DOC}: expected one <!-- machine:begin --> ... <!-- machine:end --> section, found {count}")
    return new


def main(argv: list[str]) -> int:
    text = DOC.read_text(encoding="utf-8")
    new = rewritten(text)
    if argv == ["--check"]:
        if new != text:
            print(f"{DOC.name}: the state diagram is out of date; run scripts/diagram", file=sys.stderr)
            return 1
        return 0
    if argv:
        print("usage: scripts/diagram [--check]", file=sys.stderr)
        return 2
    if new != text:
        DOC.write_text(new, encoding="utf-8")
        print(f"rewrote the state diagram in {DOC.relative_to(Path.cwd())}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
