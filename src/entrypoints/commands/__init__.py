"""The ``hyperframes auth`` commands: each is a plain function ``(Terminal, options…) -> exit code``.

``cli.py`` (typer) and ``main.py`` (the fast path for ``--version``, ``auth token``, ``auth status`` and
``auth refresh``) only parse
arguments and call these. A failure prints one line of message and one line of hint to stderr (or, under
``--json``, a JSON error object on stdout) and exits 1; a usage error exits 2; Ctrl-C exits 130.
"""
