"""The composition root (``bootstrap``), the ``hyperframes`` CLI and the programmatic facade."""
