"""``CredentialsFile``: the plain JSON store shared with the TypeScript CLI and heygen-cli.

``$HEYGEN_CONFIG_DIR/credentials``, else ``~/.heygen/credentials`` (no extension), in the format of
``domain.credentials`` (reference §3.2); files are 0600 in a 0700 directory and written atomically
(``files.SecureFile``).

Kept free of attrs and filelock at import time: ``hyperframes auth token`` reads through it.
"""

from __future__ import annotations

from ..domain.credentials import CredentialsDocument
from ..domain.errors import InvalidStore
from .codec import read_document as parse_document
from .codec import write_document as render_document
from .files import SecureFile


class CredentialsFile(SecureFile):
    """Implements ``CredentialStore`` on the plain JSON credentials file."""

    backend = "file"

    def read(self) -> CredentialsDocument:
        """The stored document; an absent or empty file gives an empty document.

        Raises:
            InvalidStore: the file cannot be read or parsed (it is left as it is).
        """
        data = self.read_bytes()
        if data is None:
            return CredentialsDocument()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidStore(f"{self.path} is not UTF-8 text") from None
        return parse_document(text)

    def write(self, doc: CredentialsDocument) -> None:
        self.write_bytes(render_document(doc).encode("utf-8"))
