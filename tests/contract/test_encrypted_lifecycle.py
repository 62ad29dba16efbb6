"""The encrypted store's key lifecycle on real files: migration from the plain file (removed only once the encrypted
one is durable), version 1 files opened and upgraded, Argon2id parameters raised on write, ``rekey`` in every
direction, the passphrase asked twice for a new keeper and never while the store's lock is held."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest

from hyperframes_auth.adapters.credentials_file import CredentialsFile
from hyperframes_auth.adapters.encrypted_file import (
    DEFAULT_PARAMS,
    KDF_ARGON2ID,
    KDF_KEYRING,
    MIN_PASSPHRASE_CHARS,
    EncryptedCredentialsFile,
    PassphrasePrompt,
)
from hyperframes_auth.adapters.keyring_key import SERVICE
from hyperframes_auth.domain.credentials import CredentialsDocument, OAuthTokens
from hyperframes_auth.domain.errors import (
    ConfigError,
    CorruptStore,
    InvalidStore,
    KeyringRefused,
    NotConfigured,
    StoreChanged,
    StoreLocked,
    WrongPassphrase,
)
from tests.contract.keyrings import MemoryKeyring, keyring_key, ring

__all__ = ["ring"]  # the fixture

DOC = CredentialsDocument(api_key="hg_plain_key_123", oauth=OAuthTokens("at_plain_secret", "rt_plain_secret"))
PASS = "a passphrase of some length"
FAST = (19 * 1024, 2, 1)
FIXTURES = Path(__file__).parent / "fixtures"
V1_PASSPHRASE = "cafe\u0301 au lait v1"  # the fixture was made with the decomposed form


def paths(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "credentials", tmp_path / "credentials.enc"


def store(
    tmp_path: Path,
    passphrase: object = PASS,
    params: tuple[int, int, int] = FAST,
    migrate: bool = True,
    with_keyring: bool = False,
    prefer_keyring: bool = False,
) -> EncryptedCredentialsFile:
    plain, enc = paths(tmp_path)
    source = passphrase if callable(passphrase) or passphrase is None else (lambda: passphrase)
    return EncryptedCredentialsFile(
        str(enc),
        source,  # type: ignore[arg-type]
        params=params,
        keyring_key=keyring_key(str(enc)) if with_keyring else None,
        prefer_keyring=prefer_keyring,
        migrate_from=CredentialsFile(str(plain)) if migrate else None,
    )


def header_of(path: Path) -> tuple[int, int, bytes, tuple[int, int, int]]:
    version, kind, memory, iterations, lanes, ident = struct.unpack(">BBIII16s", path.read_bytes()[6:36])
    return version, kind, ident, (memory, iterations, lanes)


def update(target: EncryptedCredentialsFile, doc: CredentialsDocument) -> CredentialsDocument:
    """What the service does on sign-in: read-modify-write under the lock."""
    with target.lock():
        before = target.read()
        target.write(doc)
    return before


# ---------------------------------------------------------------------------------------------- migration


def test_the_plain_file_is_read_then_encrypted_then_removed(tmp_path: Path) -> None:
    plain, enc = paths(tmp_path)
    CredentialsFile(str(plain)).write(DOC)
    migrating = store(tmp_path)
    assert migrating.plain_leftover() == str(plain)
    seen = migrating.read()
    assert seen.content() == DOC.content()
    assert migrating.read_from_plain
    assert migrating.keeper is None  # nothing encrypted yet
    update(migrating, seen)
    assert not plain.exists()
    assert migrating.plain_removed == str(plain)
    assert b"plain_secret" not in enc.read_bytes()
    fresh = store(tmp_path)
    assert fresh.read().content() == DOC.content()
    assert not fresh.read_from_plain
    assert fresh.plain_leftover() is None


def test_a_failed_encrypted_write_leaves_the_plain_file(tmp_path: Path) -> None:
    plain, enc = paths(tmp_path)
    CredentialsFile(str(plain)).write(DOC)
    before = plain.read_bytes()
    enc.mkdir()  # the encrypted write cannot happen (a real failure, before any byte is written)
    migrating = store(tmp_path)
    with pytest.raises(InvalidStore), migrating.lock():
        migrating.write(migrating.read())
    assert plain.read_bytes() == before


def test_the_plain_file_goes_only_after_the_encrypted_one_is_durable(tmp_path: Path) -> None:
    plain, enc = paths(tmp_path)
    CredentialsFile(str(plain)).write(DOC)
    observed: list[tuple[bool, bool]] = []

    class CrashAfterWrite(EncryptedCredentialsFile):
        def after_save(self, *, saved: bool) -> None:  # called once the new file is in place, fsynced
            observed.append((saved, enc.exists(), plain.exists()))
            raise KeyboardInterrupt  # the process dies right after the encrypted file became durable

    crashing = CrashAfterWrite(str(enc), lambda: PASS, params=FAST, migrate_from=CredentialsFile(str(plain)))
    with pytest.raises(KeyboardInterrupt), crashing.lock():
        crashing.write(crashing.read())
    assert observed == [(True, True, True)]
    assert plain.exists()  # the crash left both: nothing lost
    after = store(tmp_path)
    assert after.read().content() == DOC.content()  # the encrypted file wins
    assert after.plain_leftover() == str(plain)  # status can say a plain file is still there
    after.delete()  # logout removes both
    assert not plain.exists()
    assert not enc.exists()
    assert after.plain_removed == str(plain)


def test_a_plain_file_changed_since_it_was_read_is_kept(tmp_path: Path) -> None:
    plain, _ = paths(tmp_path)
    CredentialsFile(str(plain)).write(DOC)
    migrating = store(tmp_path)
    seen = migrating.read()
    CredentialsFile(str(plain)).write(CredentialsDocument(api_key="hg_written_meanwhile"))  # no lock was held
    migrating.write(seen)
    assert CredentialsFile(str(plain)).read().api_key == "hg_written_meanwhile"


def test_the_migration_holds_the_plain_stores_lock(tmp_path: Path) -> None:
    plain, _ = paths(tmp_path)
    CredentialsFile(str(plain)).write(DOC)
    migrating = store(tmp_path)
    with migrating.lock(), pytest.raises(StoreLocked):
        CredentialsFile(str(plain), lock_timeout=0.2).lock().__enter__()


def test_an_unreadable_plain_file_is_moved_aside_never_deleted(tmp_path: Path) -> None:
    plain, enc = paths(tmp_path)
    plain.write_bytes(b"{ not json")
    migrating = store(tmp_path)
    with migrating.lock():
        with pytest.raises(InvalidStore):
            migrating.read()
        kept = migrating.quarantine()
        migrating.write(DOC)
    assert kept is not None
    assert Path(kept).read_bytes() == b"{ not json"
    assert enc.exists()
    assert not plain.exists()


# ---------------------------------------------------------------------------------------------- version 1


def test_a_version_1_passphrase_file_is_opened_and_upgraded_on_write(tmp_path: Path) -> None:
    _, enc = paths(tmp_path)
    shutil.copy(FIXTURES / "v1-passphrase.enc", enc)
    composed = "caf\u00e9 au lait v1"  # version 1 used the passphrase as typed; the other form opens it too
    old = store(tmp_path, composed, params=DEFAULT_PARAMS)
    assert old.keeper == "passphrase (Argon2id, 19 MiB, t=2, p=1)"
    doc = old.read()
    assert doc.api_key == "hg_v1_fixture_key"
    assert header_of(enc)[0] == 1
    update(old, doc)
    version, kind, salt, params = header_of(enc)
    assert (version, kind, params) == (2, KDF_ARGON2ID, DEFAULT_PARAMS)
    assert salt != (FIXTURES / "v1-passphrase.enc").read_bytes()[20:36]
    assert store(tmp_path, V1_PASSPHRASE, params=DEFAULT_PARAMS).read().content() == doc.content()
    with pytest.raises(WrongPassphrase):
        store(tmp_path, "not it").read()


def test_a_version_1_keyring_file_is_opened_and_upgraded_keeping_its_item(ring: MemoryKeyring, tmp_path: Path) -> None:
    _, enc = paths(tmp_path)
    shutil.copy(FIXTURES / "v1-keyring.enc", enc)
    key_id = (FIXTURES / "v1-keyring.enc").read_bytes()[20:36]
    ring.items[(SERVICE, f"{enc}#{key_id.hex()}")] = (FIXTURES / "v1-keyring.key").read_text().strip()
    old = store(tmp_path, None, with_keyring=True)
    doc = old.read()
    assert doc.oauth is not None
    assert doc.oauth.access_token == "at_v1_fixture"
    old.write(doc)
    assert header_of(enc)[:3] == (2, KDF_KEYRING, key_id)
    assert store(tmp_path, None, with_keyring=True).read().content() == doc.content()
    assert len(ring.items) == 1


# ---------------------------------------------------------------------------------------------- KDF upgrade


def test_weaker_parameters_are_raised_on_the_next_write(tmp_path: Path) -> None:
    _, enc = paths(tmp_path)
    store(tmp_path, params=FAST).write(DOC)
    old_salt = header_of(enc)[2]
    current = store(tmp_path, params=DEFAULT_PARAMS)
    update(current, current.read())
    _, _, salt, params = header_of(enc)
    assert params == DEFAULT_PARAMS
    assert salt != old_salt
    assert store(tmp_path, params=DEFAULT_PARAMS).read().content() == DOC.content()
    # and a file stronger than the current parameters is left as it is
    strong = (DEFAULT_PARAMS[0], DEFAULT_PARAMS[1] + 1, 1)
    store(tmp_path, params=strong).write(DOC)
    update(store(tmp_path, params=DEFAULT_PARAMS), DOC)
    assert header_of(enc)[3] == strong


# ---------------------------------------------------------------------------------------------- rekey


def test_rekey_changes_the_passphrase_without_signing_out(tmp_path: Path) -> None:
    _, enc = paths(tmp_path)
    store(tmp_path).write(DOC)
    keeper = store(tmp_path).rekey("passphrase", lambda _note: "the new passphrase here")
    assert keeper == "passphrase (Argon2id, 19 MiB, t=2, p=1)"
    with pytest.raises(WrongPassphrase):
        store(tmp_path).read()
    assert store(tmp_path, "the new passphrase here").read().content() == DOC.content()
    assert b"plain_secret" not in enc.read_bytes()


def test_rekey_moves_a_file_to_the_keyring_and_back(ring: MemoryKeyring, tmp_path: Path) -> None:
    _, enc = paths(tmp_path)
    store(tmp_path).write(DOC)
    assert store(tmp_path, with_keyring=True).rekey("keyring") == "OS keyring (test keyring)"
    assert header_of(enc)[1] == KDF_KEYRING
    assert len(ring.items) == 1
    assert store(tmp_path, None, with_keyring=True).read().content() == DOC.content()  # no passphrase needed

    back = store(tmp_path, None, with_keyring=True)
    assert back.rekey("passphrase", lambda _note: "back to a passphrase") == "passphrase (Argon2id, 19 MiB, t=2, p=1)"
    assert header_of(enc)[1] == KDF_ARGON2ID
    assert ring.items == {}  # the item went after the new file was durable
    assert store(tmp_path, "back to a passphrase").read().content() == DOC.content()


def test_rekey_to_an_untrusted_keyring_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    import keyring
    from keyrings.alt.file import PlaintextKeyring

    _, enc = paths(tmp_path)
    store(tmp_path).write(DOC)
    before = enc.read_bytes()
    previous = keyring.get_keyring()
    plain_keyring = PlaintextKeyring()
    plain_keyring.file_path = str(tmp_path / "plain-keyring.cfg")  # type: ignore[misc]
    keyring.set_keyring(plain_keyring)
    try:
        with pytest.raises(KeyringRefused, match="PlaintextKeyring"):
            store(tmp_path, with_keyring=True).rekey("keyring")
    finally:
        keyring.set_keyring(previous)
    assert enc.read_bytes() == before
    assert not (tmp_path / "plain-keyring.cfg").exists()


def test_rekey_refuses_when_the_file_changed_meanwhile(tmp_path: Path) -> None:
    store(tmp_path).write(DOC)

    def new_passphrase(_note: str | None) -> str:
        store(tmp_path).rekey("passphrase", lambda _n: "someone else's choice")  # another process, meanwhile
        return "my new passphrase"

    with pytest.raises(StoreChanged):
        store(tmp_path).rekey("passphrase", new_passphrase)
    assert store(tmp_path, "someone else's choice").read().content() == DOC.content()
    with pytest.raises(NotConfigured):
        store(tmp_path / "empty").rekey("passphrase")


# ---------------------------------------------------------------------------------------------- prompts and the lock


def test_no_prompt_runs_while_the_lock_is_held(tmp_path: Path) -> None:
    _, enc = paths(tmp_path)
    other_process = EncryptedCredentialsFile(str(enc), lambda: PASS, params=FAST, lock_timeout=0.2)
    asked: list[str] = []

    def prompt() -> str:
        with other_process.lock():  # StoreLocked here if the prompt ran under the lock
            asked.append("free")
        return PASS

    for _ in range(2):  # a new file, then an existing one
        target = store(tmp_path, prompt)
        with target.lock():
            target.write(DOC if target.read().api_key is None else CredentialsDocument(api_key="hg_second"))
    assert asked == ["free", "free"]
    assert store(tmp_path).read().api_key == "hg_second"


def test_a_typed_passphrase_for_a_new_file_is_asked_with_the_lock_let_go(tmp_path: Path) -> None:
    _, enc = paths(tmp_path)
    other_process = EncryptedCredentialsFile(str(enc), lambda: PASS, params=FAST, lock_timeout=0.2)
    free: list[bool] = []

    def ask(_question: str) -> str:
        with other_process.lock():  # StoreLocked here if the prompt ran under the lock
            free.append(True)
        return "typed at a terminal, twice"

    target = store(tmp_path, PassphrasePrompt({}, prompt=True, ask=ask, say=lambda _line: None))
    with target.lock():
        assert free == []  # nothing is asked before it is known that a file will be written
        target.write(target.read() if target.read().is_worth_keeping() else DOC)
    assert free == [True, True]
    assert store(tmp_path, "typed at a terminal, twice").read().content() == DOC.content()


def test_nothing_is_asked_when_nothing_is_stored_and_nothing_written(tmp_path: Path) -> None:
    asked: list[str] = []
    quiet = PassphrasePrompt({}, prompt=True, ask=lambda question: asked.append(question) or "x", say=asked.append)
    target = store(tmp_path, quiet)
    with target.lock():  # `auth logout` with nothing stored
        target.delete()
    with target.lock():  # `auth refresh` with nothing stored
        assert not target.read().is_worth_keeping()
    assert asked == []


def test_a_file_written_by_another_process_during_the_prompt_is_not_overwritten(tmp_path: Path) -> None:
    _, enc = paths(tmp_path)

    def ask(_question: str) -> str:
        if not enc.exists():
            store(tmp_path, "the other one's passphrase").write(CredentialsDocument(api_key="hg_other_process"))
        return "typed at a terminal, twice"

    target = store(tmp_path, PassphrasePrompt({}, prompt=True, ask=ask, say=lambda _line: None))
    with target.lock():
        assert not target.read().is_worth_keeping()
        with pytest.raises(StoreChanged):
            target.write(DOC)
    assert store(tmp_path, "the other one's passphrase").read().api_key == "hg_other_process"


def test_a_wrong_passphrase_at_lock_time_still_lets_logout_delete(tmp_path: Path) -> None:
    _, enc = paths(tmp_path)
    store(tmp_path).write(DOC)
    wrong = store(tmp_path, "wrong")
    with wrong.lock():
        with pytest.raises(WrongPassphrase):
            wrong.read()
        wrong.delete()
    assert not enc.exists()


def test_a_damaged_file_is_replaced_under_the_lock_without_asking_there(tmp_path: Path) -> None:
    _, enc = paths(tmp_path)
    store(tmp_path).write(DOC)
    data = bytearray(enc.read_bytes())
    data[-1] ^= 1  # the body's tag
    enc.write_bytes(bytes(data))
    held: list[bool] = []
    target = store(tmp_path, lambda: held.append(True) or PASS)
    with target.lock():
        held.clear()  # only prompts from here on, under the lock, matter
        with pytest.raises(CorruptStore):
            target.read()
        assert target.quarantine() is not None
        target.write(DOC)
    assert held == []
    assert store(tmp_path).read().content() == DOC.content()


def test_a_file_replaced_between_prepare_and_lock_is_unlocked_again(ring: MemoryKeyring, tmp_path: Path) -> None:
    store(tmp_path, None, with_keyring=True, prefer_keyring=True).write(DOC)
    racing = store(tmp_path, None, with_keyring=True, prefer_keyring=True)
    racing.read()
    other = store(tmp_path, None, with_keyring=True, prefer_keyring=True)
    other.delete()
    other.write(CredentialsDocument(api_key="hg_other"))
    with racing.lock():
        assert racing.read().api_key == "hg_other"
        racing.write(CredentialsDocument(api_key="hg_racing"))
    assert store(tmp_path, None, with_keyring=True).read().api_key == "hg_racing"


# ---------------------------------------------------------------------------------------------- the prompt itself


def scripted(*answers: str) -> tuple[PassphrasePrompt, list[str], list[str]]:
    said: list[str] = []
    questions: list[str] = []
    queue = list(answers)

    def ask(question: str) -> str:
        questions.append(question)
        return queue.pop(0)

    return PassphrasePrompt({}, prompt=True, ask=ask, say=said.append), said, questions


def test_a_new_passphrase_is_asked_twice_and_again_on_a_mismatch() -> None:
    prompt, said, questions = scripted("first long passphrase", "typo long passphrase", "a" * 20, "a" * 20)
    assert prompt.new() == "a" * 20
    assert len(questions) == 4
    assert "do not match" in said[0]
    assert not any("shorter" in line for line in said)


def test_a_short_new_passphrase_is_warned_about() -> None:
    prompt, said, _ = scripted("short", "short")
    assert prompt.new("Why the keyring is not used.") == "short"
    assert said[0] == "Why the keyring is not used."
    assert f"shorter than {MIN_PASSPHRASE_CHARS} characters" in said[1]


def test_an_empty_or_control_character_passphrase_is_asked_again_then_given_up() -> None:
    prompt, said, _ = scripted("", "tab\there long enough", "", "")
    with pytest.raises(ConfigError, match="did not match"):
        prompt.new()
    assert said == ["The passphrase cannot be empty.", "A passphrase cannot hold control characters.", said[2]]


def test_the_environment_passphrase_is_used_as_given() -> None:
    prompt = PassphrasePrompt({"HYPERFRAMES_CREDENTIALS_PASSPHRASE": "short"}, prompt=True, ask=lambda _q: "never")
    assert prompt.new() == "short"
    assert prompt() == "short"
    with pytest.raises(ConfigError, match="No passphrase"):
        PassphrasePrompt({}, prompt=False).new()


def test_a_new_file_from_a_prompt_asks_twice(tmp_path: Path) -> None:
    prompt, _, questions = scripted("chosen twice passphrase", "chosen twice passphrase", "chosen twice passphrase")
    _, enc = paths(tmp_path)
    EncryptedCredentialsFile(str(enc), prompt, params=FAST).write(DOC)
    assert [q.split()[0] for q in questions] == ["New", "Repeat"]
    EncryptedCredentialsFile(str(enc), prompt, params=FAST).read()
    assert questions[-1].startswith("Passphrase")
