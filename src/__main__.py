"""``python -m hyperframes_auth`` runs the ``hyperframes`` command."""

from .entrypoints.main import main

raise SystemExit(main())
