"""``CredentialsFile``: the plain JSON store shared with the TypeScript CLI and heygen-cli.

``$HEYGEN_CONFIG_DIR/credentials``, else ``~/.heygen/credentials`` (no extension), in the format of
``domain.credentials``; files are 0600 in a 0700 directory, trusted only when they deserve it, and written
atomically (``files.SecureFile``).

Its JSON goes through the one codec (``codec.py``, cattrs). ``hyperframes auth token`` with a fresh token does not
come here: it reads the file through ``files.SecureFile`` and the standard library alone (``entrypoints/quick.py``).
"""

from __future__ import annotations

from ..domain.credentials import CredentialsDocument
from ..domain.errors import InvalidStore
from .codec import encode_document
from .codec import read_document as parse_document
from .files import SecureFile


class CredentialsFile(SecureFile):
    """Implements ``CredentialStore`` on the plain JSON credentials file."""

    backend = "file"

    def read(self) -> CredentialsDocument:
        """The stored document; an absent or empty file gives an empty document.

        Raises:
            InvalidStore: the file cannot be read or parsed (it is left as it is); the hint names its path.
            UnsafeStore: the directory or the file cannot be trusted.
        """
        data = self.read_bytes()
        if data is None:
            return CredentialsDocument()
        try:
            return parse_document(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise InvalidStore(f"{self.path} is not UTF-8 text", path=self.path) from None
        except InvalidStore as exc:
            if exc.path is not None:
                raise
            raise InvalidStore(f"{self.path}: {exc.detail}", path=self.path) from None

    def encode(self, doc: CredentialsDocument) -> bytes:
        return encode_document(doc)

    def complete(self, data: bytes) -> bool:
        """A left-over temp file is whole when its bytes read as a credentials document, as ``read`` would.

        What ``encode`` writes is one JSON object: a write cut short is not valid JSON, nor is the content followed
        by the reservation's zeros (NUL is never valid after the object, nor inside it unescaped). It must start
        with ``{``: ``read`` also accepts an empty file (no credentials) and a legacy bare API key, which nothing of
        ours writes, so an empty file or a prefix of a key-looking text is never adopted.
        """
        if not data.startswith(b"{"):
            return False
        try:
            parse_document(data.decode("utf-8"))
        except (UnicodeDecodeError, InvalidStore):
            return False
        return True
