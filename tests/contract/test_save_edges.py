"""Saves at their edges: an encrypted save that rewraps its key, the first save of a migration to the encrypted
store, each killed before its rename; and a credentials file that is itself a mount point, which no rename can
replace. Each case once lost a grant."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from hyperframes_auth.adapters.credentials_file import CredentialsFile
from hyperframes_auth.adapters.encrypted_file import MIN_ITERATIONS, MIN_MEMORY_KIB, EncryptedCredentialsFile
from hyperframes_auth.adapters.files import SecureFile
from hyperframes_auth.domain.credentials import CredentialsDocument, OAuthTokens
from hyperframes_auth.domain.errors import StoreIsMountPoint, WrongPassphrase

from .conftest import AuthServer
from .people import sign_in
from .test_cli_e2e import cli_env, hf
from .test_orphan_adoption import temps
from .test_orphan_adoption import until_the_clock_passes as _until_the_clock_passes
from .test_refresh_transaction import credentials

pytestmark = pytest.mark.contract
ROOT = Path(__file__).resolve().parents[2]
OLD = CredentialsDocument(oauth=OAuthTokens("at_old" * 50, "rt_old_spent"))
NEW = CredentialsDocument(oauth=OAuthTokens("at_new" * 50, "rt_new_rotated"))
NEWER = CredentialsDocument(oauth=OAuthTokens("at_newer" * 50, "rt_newer_rotated"))
PASS = "s3cret passphrase"
FLOOR = (MIN_MEMORY_KIB, MIN_ITERATIONS, 1)


# ---------------------------------------------------------------------------------------------- orphan adoption


def _killed_in_fsync(make: Callable[[], SecureFile], doc: CredentialsDocument) -> None:
    """A refresh's save (lock, read, reserve, commit) in a real process, SIGKILLed in its fsync: the new bytes are
    written and truncated in the temp file, not yet renamed (every process of a container torn down at once)."""
    from .test_orphan_adoption import FORK, _save_and_stop, kill

    ready = FORK.Event()
    child = FORK.Process(target=_save_and_stop, args=(make, doc, "fsync", ready, True))
    child.start()
    assert ready.wait(30)
    kill(child)


UPGRADED = (MIN_MEMORY_KIB, MIN_ITERATIONS + 1, 1)


def _v1_file(config: Path) -> str:
    """A version 1 passphrase file (as 0.1.0 wrote it) in ``config``; its passphrase."""
    from .fixtures.make_v1_fixtures import PASSPHRASE

    config.mkdir(mode=0o700)
    shutil.copy(ROOT / "tests" / "contract" / "fixtures" / "v1-passphrase.enc", config / "credentials.enc")
    (config / "credentials.enc").chmod(0o600)
    return PASSPHRASE


@pytest.mark.parametrize("upgrade", ["Argon2id parameters raised", "version 1 file"])
def test_an_encrypted_save_that_rewraps_the_key_is_adopted_after_a_kill(tmp_path: Path, upgrade: str) -> None:
    """A save rewraps the data key when the file is below the current Argon2id parameters, or of version 1: its
    bytes are sealed under keys other than the file's. ``complete`` only knows the keys of the file on disk, so it
    answers "cannot be told" for ever: the whole newer save is kept but never adopted, the file keeps the spent
    refresh token, and the next save (under the file's keys) makes the orphan look older and removes it."""
    config = tmp_path / "cfg"
    if upgrade == "version 1 file":
        passphrase, params = _v1_file(config), FLOOR
    else:
        passphrase, params = PASS, UPGRADED
        EncryptedCredentialsFile(str(config / "credentials.enc"), lambda: PASS, params=FLOOR).write(OLD)

    def store() -> EncryptedCredentialsFile:
        return EncryptedCredentialsFile(str(config / "credentials.enc"), lambda: passphrase, params=params)

    _until_the_clock_passes(config / "credentials.enc")
    _killed_in_fsync(store, NEW)
    assert len(temps(config)) == 1
    fresh = store()  # the next command
    with fresh.lock():
        assert fresh.read().content() == NEW.content(), "the rotated refresh token was not adopted"


def _stop_at_fsync(
    make: Callable[[], SecureFile],
    doc: CredentialsDocument,
    ready: object,
    nth: int,
    in_flight: Callable[[], None] | None = None,
) -> None:
    """In a child: a refresh's save (lock, read, reserve, ``in_flight`` as the request is on the wire, commit)
    whose ``nth`` fsync never returns."""
    import threading

    from hyperframes_auth.adapters import files

    fsync, calls = files._full_fsync, []

    def hangs(fd: int) -> None:
        calls.append(fd)
        if len(calls) == nth:
            ready.set()  # type: ignore[attr-defined]
            threading.Event().wait()
        fsync(fd)

    files._full_fsync = hangs  # type: ignore[assignment]
    store = make()
    with store.lock():
        store.read()  # type: ignore[attr-defined]
        with store.reserve() as pending:
            if in_flight is not None:
                in_flight()
            pending.commit(doc)


def _killed_at_fsync(
    make: Callable[[], SecureFile], doc: CredentialsDocument, nth: int, in_flight: Callable[[], None] | None = None
) -> None:
    from .test_orphan_adoption import FORK, kill

    ready = FORK.Event()
    child = FORK.Process(target=_stop_at_fsync, args=(make, doc, ready, nth, in_flight))
    child.start()
    assert ready.wait(30)
    kill(child)


def _migration(config: Path, passphrase: str = PASS) -> tuple[CredentialsFile, Callable[[], EncryptedCredentialsFile]]:
    """A plain file holding ``OLD`` in ``config``, and the encrypted store that migrates from it."""
    plain = CredentialsFile(str(config / "credentials"))
    if not Path(plain.path).exists():
        plain.write(OLD)

    def store() -> EncryptedCredentialsFile:
        return EncryptedCredentialsFile(
            str(config / "credentials.enc"), lambda: passphrase, params=FLOOR, migrate_from=plain
        )

    return plain, store


def _ts_cli_writes(path: Path, doc: CredentialsDocument) -> None:
    """The TypeScript CLI's save: no lock, a temp file of its own renamed over ``credentials``."""
    from hyperframes_auth.adapters.codec import encode_document

    temp = path.parent / "ts-cli-write.tmp-x"
    temp.write_bytes(encode_document(doc))
    temp.chmod(0o600)
    os.replace(temp, path)


def test_a_migration_to_the_encrypted_store_killed_in_its_fsync_keeps_the_rotated_token(tmp_path: Path) -> None:
    """Opting in to the encrypted store: the first refresh moves the plain file's content into ``credentials.enc``.
    Were that the refresh's own save, killed before its rename it would leave a whole newer save with no encrypted
    file beside it, which counts as "the file was removed after it" and is removed, while the plain file still holds
    the refresh token the server rotated away. The migration is a write of its own before the spend, so the
    refresh's save (the second fsync) is judged against an encrypted file in place, and adopted."""
    config = tmp_path / "cfg"
    plain, store = _migration(config)
    _until_the_clock_passes(Path(plain.path))
    _killed_at_fsync(store, NEW, nth=2)
    assert not Path(plain.path).exists(), "migrated, and the plain file removed, before anything was spent"
    assert (config / "credentials.enc").exists()
    assert len(temps(config)) == 1
    fresh = store()
    with fresh.lock():
        assert fresh.read().content() == NEW.content(), "the refresh's save was thrown away"
        assert not fresh.read_from_plain
    assert not temps(config)


def test_a_save_reserved_within_a_clock_tick_of_the_files_last_change_is_still_adopted(tmp_path: Path) -> None:
    """File systems stamp times from a coarse clock (whole seconds on some): a save reserved just after the file
    changed (the encrypted store's migration writes right before the refresh's save) could share its timestamp,
    count as older when killed, and be thrown away with the rotated token. Simulated here by a file stamped a few
    hundred milliseconds ahead: the reservation waits for the clock to pass it."""
    import time

    config = tmp_path / "cfg"
    CredentialsFile(str(config / "credentials")).write(OLD)
    ahead = time.time_ns() + 300_000_000
    os.utime(config / "credentials", ns=(ahead, ahead))

    def store() -> CredentialsFile:
        return CredentialsFile(str(config / "credentials"))

    _killed_at_fsync(store, NEW, nth=1)
    [temp] = temps(config)
    assert temp.stat().st_mtime_ns > ahead
    with store().lock():
        assert store().read().content() == NEW.content()
    assert not temps(config)


def test_a_migration_killed_in_its_own_write_has_spent_nothing_and_keeps_the_plain_file(tmp_path: Path) -> None:
    config = tmp_path / "cfg"
    plain, store = _migration(config)
    _until_the_clock_passes(Path(plain.path))
    _killed_at_fsync(store, NEW, nth=1)
    assert not (config / "credentials.enc").exists()
    fresh = store()
    with fresh.lock():
        assert fresh.read().content() == OLD.content()
        assert fresh.read_from_plain
    assert not temps(config), "the migration's own temp file is removed: it held nothing new"
    assert CredentialsFile(plain.path).read().content() == OLD.content()


def test_a_plain_sign_in_written_while_a_migrated_refresh_is_in_flight_is_never_removed(tmp_path: Path) -> None:
    """The TypeScript CLI takes no lock: it may sign in anew into ``credentials`` while our first encrypted refresh
    is on the wire. Our refresh's save, killed and adopted by the next process, must not take that sign-in with it."""
    config = tmp_path / "cfg"
    plain, store = _migration(config)
    login = CredentialsDocument(oauth=OAuthTokens("at_ts" * 50, "rt_ts_fresh_login"))
    _until_the_clock_passes(Path(plain.path))
    _killed_at_fsync(store, NEW, nth=2, in_flight=lambda: _ts_cli_writes(Path(plain.path), login))
    fresh = store()
    with fresh.lock():
        assert fresh.read().content() == NEW.content()
    assert CredentialsFile(plain.path).read().content() == login.content()
    assert fresh.plain_leftover() == plain.path


def test_a_plain_file_changed_before_the_migration_is_kept(tmp_path: Path) -> None:
    """Changed between our read and the migration's write: the migration keeps the plain file, as it always has."""
    config = tmp_path / "cfg"
    plain, store = _migration(config)
    login = CredentialsDocument(oauth=OAuthTokens("at_ts" * 50, "rt_ts_fresh_login"))
    first = store()
    with first.lock():
        first.read()
        _ts_cli_writes(Path(plain.path), login)
        with first.reserve() as pending:
            pending.commit(NEW)
    assert CredentialsFile(plain.path).read().content() == login.content()
    with store().lock():
        assert store().read().content() == NEW.content()


def test_a_hand_sign_out_beside_a_plain_file_is_not_undone(tmp_path: Path) -> None:
    """An upgrade's own write killed leaves a temp file no one can judge (kept). The person then removes
    ``credentials.enc`` by hand, a sign-out, with an older plain file of the TypeScript CLI beside it: the temp file
    is not brought back, and the plain file is neither removed nor shadowed."""
    config = tmp_path / "cfg"
    config.mkdir(mode=0o700)
    login = CredentialsDocument(oauth=OAuthTokens("at_ts" * 50, "rt_ts_fresh_login"))
    _ts_cli_writes(config / "credentials", login)
    encrypted = config / "credentials.enc"
    EncryptedCredentialsFile(str(encrypted), lambda: PASS, params=FLOOR).write(OLD)
    plain = CredentialsFile(str(config / "credentials"))

    def store() -> EncryptedCredentialsFile:
        return EncryptedCredentialsFile(str(encrypted), lambda: PASS, params=UPGRADED, migrate_from=plain)

    _until_the_clock_passes(encrypted)
    _killed_at_fsync(store, NEW, nth=2)  # the save landed; the upgrade's own write was killed
    assert len(temps(config)) == 1
    encrypted.unlink()
    fresh = store()
    with fresh.lock():
        assert fresh.read().content() == login.content()
    assert not encrypted.exists()
    assert plain.read().content() == login.content()
    assert not temps(config)


def test_a_migrated_refresh_killed_asks_for_its_passphrase_and_keeps_the_save_until_it_is_given(
    tmp_path: Path,
) -> None:
    """The encrypted file is in place once migrated: a wrong passphrase is told as for any file, and the killed
    save is kept (not read around, not removed) until the right one is given."""
    config = tmp_path / "cfg"
    plain, store = _migration(config)
    _until_the_clock_passes(Path(plain.path))
    _killed_at_fsync(store, NEW, nth=2)
    _, mistyped = _migration(config, "a wrong passphrase")
    wrong = mistyped()
    with wrong.lock(), pytest.raises(WrongPassphrase):
        wrong.read()
    assert len(temps(config)) == 1
    fresh = store()
    with fresh.lock():
        assert fresh.read().content() == NEW.content()
    assert not temps(config)


def test_a_kill_in_the_upgrade_after_a_save_loses_nothing(tmp_path: Path) -> None:
    """The upgrade is a write of its own after the save: killed in it, the save is in place under the old keys; its
    temp file (new keys, which no one can judge) waits, and the next save makes it moot."""
    config = tmp_path / "cfg"
    EncryptedCredentialsFile(str(config / "credentials.enc"), lambda: PASS, params=FLOOR).write(OLD)

    def store() -> EncryptedCredentialsFile:
        return EncryptedCredentialsFile(str(config / "credentials.enc"), lambda: PASS, params=UPGRADED)

    _killed_at_fsync(store, NEW, nth=2)
    [left] = temps(config)
    fresh = store()
    with fresh.lock():
        assert fresh.read().content() == NEW.content()
        assert left.exists()
        assert fresh.keeper == "passphrase (Argon2id, 19 MiB, t=2, p=1)"
        _until_the_clock_passes(left)
        fresh.write(NEWER)
    assert fresh.keeper == "passphrase (Argon2id, 19 MiB, t=3, p=1)"
    with store().lock():
        assert store().read().content() == NEWER.content()
    assert not temps(config)


# ---------------------------------------------------------------------------------------------- rename after the spend


def test_a_credentials_file_mounted_on_its_own_fails_the_refresh_before_anything_is_spent(
    auth_server: AuthServer, tmp_path: Path
) -> None:
    """A container given the host's credentials file (``docker run -v ~/.heygen/credentials:...``, a Kubernetes
    ``subPath``): the file is a mount point, and no rename can replace it (``EBUSY``). ``reserve()`` checks that the
    directory is writable and the disk has room, not that the rename can ever happen: the refresh token is spent,
    the rename fails after it, and the grant is lost, on every refresh, for as long as the mount is there."""
    from .mounts import ROOT as AS_ROOT
    from .mounts import run

    if not AS_ROOT:
        pytest.skip("a bind mount needs root (CI runs as root)")
    sign_in(auth_server, tmp_path)
    config = tmp_path / "config"
    spent = credentials(config)["oauth"]["refresh_token"]
    target = config / "credentials"
    mounted = run("mount", "--bind", str(target), str(target))
    if mounted.returncode:
        pytest.skip(f"a bind mount is not permitted here: {mounted.stderr.strip()}")
    auth_server.reset()
    try:
        result = hf(cli_env(auth_server, tmp_path), "auth", "refresh")
        assert CredentialsFile(str(target)).read().content() is not None  # reads keep working
    finally:
        run("umount", "-l", str(target))
    assert "the new tokens are lost" not in result.stderr, result.stderr
    assert auth_server.refresh_requests() == 0 or credentials(config)["oauth"]["refresh_token"] != spent
    assert result.returncode == 1
    assert "is a mount point of its own, which cannot be replaced atomically" in result.stderr
    assert f"Mount its directory ({config}) instead of the file" in result.stderr
    assert credentials(config)["oauth"]["refresh_token"] == spent  # nothing was spent: the grant still works
    assert not temps(config)


def test_a_mounted_file_is_told_apart_from_its_directory_even_on_the_same_file_system(tmp_path: Path) -> None:
    """A bind mount from the same file system has the same ``st_dev`` as the directory: the mount id tells it. The
    reservation refuses it before anything is made; reading it, and saving once it is unmounted, work."""
    from .mounts import ROOT as AS_ROOT
    from .mounts import run

    if not AS_ROOT:
        pytest.skip("a bind mount needs root (CI runs as root)")
    store = CredentialsFile(str(tmp_path / "cfg" / "credentials"))
    store.write(OLD)
    target = Path(store.path)
    mounted = run("mount", "--bind", str(target), str(target))
    if mounted.returncode:
        pytest.skip(f"a bind mount is not permitted here: {mounted.stderr.strip()}")
    try:
        assert target.stat().st_dev == target.parent.stat().st_dev
        assert store.read().content() == OLD.content()
        with pytest.raises(StoreIsMountPoint) as refused, store.reserve():
            pytest.fail("a reservation over a mounted file")
        assert refused.value.code == "STORE_WRITE_FAILED"
        assert "HEYGEN_CONFIG_DIR" in (refused.value.hint or "")
        assert not temps(target.parent)
    finally:
        run("umount", "-l", str(target))
    store.write(NEW)
    assert store.read().content() == NEW.content()
