"""The README's Python examples run as written against the local authorization server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import AuthServer
from .people import sign_in

pytestmark = pytest.mark.contract
README = Path(__file__).resolve().parents[2] / "README.md"


def examples() -> dict[str, str]:
    blocks = re.findall(r"```python\n(# example: (\w+)\n.*?)```", README.read_text(), flags=re.DOTALL)
    return {name: code for code, name in blocks}


def test_the_readme_has_the_three_examples() -> None:
    assert set(examples()) == {"facade", "sync", "async"}


@pytest.mark.parametrize("name", ["facade", "sync", "async"])
def test_example_runs_as_written(auth_server: AuthServer, tmp_path: Path, name: str) -> None:
    env = sign_in(auth_server, tmp_path)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HEYGEN_", "HYPERFRAMES_"))}
    result = subprocess.run(
        [sys.executable, "-c", examples()[name]],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    expected = {
        "facade": "alice@example.test",
        "sync": "alice@example.test",
        "async": "[200, 200, 200, 200, 200, 200, 200, 200, 200, 200]",
    }
    assert expected[name] in result.stdout
