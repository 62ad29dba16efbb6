"""Run inside a private D-Bus session with gnome-keyring's Secret Service (see test_secret_service.py).

Uses the encrypted store exactly as the CLI builds it: the package's own allow-list, keyring's own choice of
backend. Prints one JSON line with what it saw.
"""

from __future__ import annotations

import json
import os
import sys

import keyring
from keyring.backends import SecretService

from hyperframes_auth.adapters.encrypted_file import EncryptedCredentialsFile
from hyperframes_auth.adapters.keyring_key import SERVICE, KeyringDataKey, class_name
from hyperframes_auth.domain.credentials import CredentialsDocument


def store(path: str) -> EncryptedCredentialsFile:
    return EncryptedCredentialsFile(path, None, keyring_key=KeyringDataKey(path), prefer_keyring=True)


def main() -> None:
    path = os.path.join(sys.argv[1], "credentials.enc")
    chosen = class_name(keyring.get_keyring())
    store(path).write(CredentialsDocument(api_key="hg_secret_service_key"))
    with open(path, "rb") as file:
        header = file.read(36)
    key_id = header[20:36]
    item = f"{path}#{key_id.hex()}"
    in_service = SecretService.Keyring().get_password(SERVICE, item)
    reader = store(path)
    result = {
        "chosen": chosen,
        "kind": header[7],
        "keeper": reader.keeper,
        "api_key": reader.read().api_key,
        "item_is_a_key": in_service is not None and len(in_service) == 44,
    }
    reader.delete()
    result["item_after_logout"] = SecretService.Keyring().get_password(SERVICE, item)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
