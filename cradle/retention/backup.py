"""Encrypted backups: the database, every sealed object and every wrapped key, in one file only the master key opens.

The file is a tar stream cut into 1 MiB chunks, each sealed with AES-256-GCM under a key derived from the master key
and a random salt of this backup; each chunk's associated data holds its position and whether it is the last, so a
reordered, altered or cut-off file is refused. Neither the master key, nor the site's secret key, nor the shred
ledger is inside: the first two are kept apart from the data (both are needed to restore), and the ledger stays
where it is so that restoring an older backup destroys again every key destroyed since (cradle.retention.ledger).
The audit log travels apart from the database fixture, exactly as stored, with its anchor's checkpoint
(cradle.audit.dump), so that the restored log verifies and stays anchored.

A backup may run beside the worker. The database is dumped from one snapshot (REPEATABLE READ on PostgreSQL); the
stored objects are listed after it, and a live-buffer segment that the worker expires before it is copied is left out
and named in the manifest, so that the restore drops its row and whatever was copied of it. Anything else that
vanishes (a clip's segment, a key) still stops the backup.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import secrets
import struct
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from cradle.accounts.models import DeviceSession, User
from cradle.audit import dump as audit_dump
from cradle.audit.actions import Action
from cradle.audit.guard import maintenance
from cradle.audit.log import record
from cradle.audit.models import Event
from cradle.media.store import MasterKey, ObjectMissing

if TYPE_CHECKING:
    from typing_extensions import Buffer  # collections.abc.Buffer from Python 3.12
from cradle.unit.models import Admission
from cradle.viewing.models import LiveSegment
from cradle.viewing.storage import forget, segment_store

MAGIC = b"CRADLE-BACKUP-1\n"
# 2: the audit log in audit.jsonl with its anchor's checkpoint; 1 had it in the fixture, times cut to milliseconds.
FORMAT = 2
SALT_BYTES = 16
CHUNK = 1 << 20
_LENGTH = struct.Struct(">I")
# Not worth keeping: content types and permissions are rebuilt by migrate; sessions are not restored, so everyone
# signs in again after a restore; the background queue's task records are transient (the work they stand for is
# found again in the database by the next scheduled run); django_rq's dashboard model has no table.
EXCLUDED = [
    "contenttypes",
    "auth.permission",
    "sessions",
    "django_tasks_database",
    "django_rq",
    "viewing.revocation",
    *audit_dump.MODELS,
]


class BackupError(Exception):
    """A backup cannot be written or restored; the message is one sentence."""


@dataclass(frozen=True)
class Figures:
    """What a backup or restore handled and how long it took."""

    bytes: int
    objects: int
    database_bytes: int
    seconds: float
    shredded_again: int = 0
    unknown_destroyed: int = 0


def _key(master: MasterKey, salt: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=salt, info=b"cradle.backup.v1").derive(master.secret)


def _aad(salt: bytes, index: int, last: bool) -> bytes:
    return MAGIC + salt + struct.pack(">QB", index, last)


def _secret_digest() -> str:
    return hashlib.sha256(b"cradle.backup.secret-key|" + settings.SECRET_KEY.encode()).hexdigest()


class _SealingWriter(io.RawIOBase):
    """A file-like sink that seals what tarfile writes, chunk by chunk, into `out`."""

    def __init__(self, out: IO[bytes], master: MasterKey) -> None:
        self._out = out
        self._salt = secrets.token_bytes(SALT_BYTES)
        self._aead = AESGCM(_key(master, self._salt))
        self._buffer = bytearray()
        self._index = 0
        out.write(MAGIC + self._salt)

    def writable(self) -> bool:
        return True

    def write(self, data: Buffer) -> int:
        view = memoryview(data)
        self._buffer += view
        while len(self._buffer) > CHUNK:
            self._emit(bytes(self._buffer[:CHUNK]), last=False)
            del self._buffer[:CHUNK]
        return view.nbytes

    def _emit(self, chunk: bytes, last: bool) -> None:
        nonce = secrets.token_bytes(12)
        sealed = nonce + self._aead.encrypt(nonce, chunk, _aad(self._salt, self._index, last))
        self._out.write(_LENGTH.pack(len(sealed)) + sealed)
        self._index += 1

    def finish(self) -> None:
        self._emit(bytes(self._buffer), last=True)
        self._buffer.clear()


def _open_chunks(source: IO[bytes], master: MasterKey, name: str) -> Iterator[bytes]:
    if source.read(len(MAGIC)) != MAGIC:
        raise BackupError(f"{name} is not a Cradle backup.")
    salt = source.read(SALT_BYTES)
    aead = AESGCM(_key(master, salt))
    index = 0
    while True:
        header = source.read(_LENGTH.size)
        if len(header) < _LENGTH.size:
            raise BackupError(f"{name} is incomplete (cut off); use a complete copy.")
        length = _LENGTH.unpack(header)[0]
        sealed = source.read(length)
        if len(sealed) < length:
            raise BackupError(f"{name} is incomplete (cut off); use a complete copy.")
        for last in (False, True):
            try:
                chunk = aead.decrypt(sealed[:12], sealed[12:], _aad(salt, index, last))
            except (InvalidTag, ValueError):
                continue
            yield chunk
            if last:
                if source.read(1):
                    raise BackupError(f"{name} has data after its end; use an unaltered copy.")
                return
            break
        else:
            raise BackupError(
                f"{name} cannot be decrypted: it was altered, or made with another master key than this one."
            )
        index += 1


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    archive.addfile(info, io.BytesIO(data))


def create(out: str | Path) -> Figures:
    """Writes an encrypted backup to `out` (written whole to a temporary file first, then moved into place)."""
    started = time.monotonic()
    out = Path(out)
    if not out.parent.is_dir():
        raise BackupError(f"The folder {out.parent} does not exist; create it first.")
    master = MasterKey.load(settings.MASTER_KEY_FILE)
    store = segment_store()
    database = io.StringIO()
    outer = connection.in_atomic_block
    with transaction.atomic():  # one consistent view of the database
        if connection.vendor == "postgresql" and not outer:
            with connection.cursor() as cursor:  # one snapshot for every table, not one per statement
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        call_command("dumpdata", exclude=EXCLUDED, natural_foreign=True, stdout=database, verbosity=0)
        audit_bytes, audit_checkpoint = audit_dump.dump()
        # The live buffer's segments in this snapshot: the worker may expire them while the backup copies.
        expirable = set(
            LiveSegment.objects.filter(in_clip=False).values_list("admission__media_id", "camera_id", "index")
        )
    database_bytes = database.getvalue().encode()
    separate_keys = store.key_backend is not store.media_backend
    media = store.media_backend.list("")
    keys = store.key_backend.list("") if separate_keys else []
    descriptor, temporary = tempfile.mkstemp(prefix=".cradle-backup-", dir=out.parent)
    expired: list[str] = []
    try:
        with os.fdopen(descriptor, "wb") as handle:
            sink = _SealingWriter(handle, master)
            with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as archive:
                _add(archive, "database.json", database_bytes)
                _add(archive, "audit.jsonl", audit_bytes)
                for name in media:
                    try:
                        data = store.media_backend.get(name)
                    except ObjectMissing:
                        if not _expired_meanwhile(name, expirable):
                            raise
                        expired.append(name)
                        continue
                    _add(archive, f"media/{name}", data)
                for name in keys:
                    _add(archive, f"keys/{name}", store.key_backend.get(name))
                objects = len(media) + len(keys) - len(expired)
                manifest = {
                    "format": FORMAT,
                    "created_at": timezone.now().isoformat(),
                    "secret_key": _secret_digest(),
                    "objects": objects,
                    "separate_keys": separate_keys,
                    "audit_checkpoint": audit_checkpoint,
                    # Live-buffer segments the worker expired while they were copied: their rows are dropped on
                    # restore, with any of their objects that were copied before the rest went.
                    "expired_meanwhile": expired,
                }
                _add(archive, "manifest.json", json.dumps(manifest).encode())
            sink.finish()
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, out)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    figures = Figures(
        out.stat().st_size, objects, len(database_bytes) + len(audit_bytes), time.monotonic() - started
    )
    record(None, Action.BACKUP_CREATED, objects=figures.objects, bytes=figures.bytes)
    return figures


_SEGMENT_NAME = re.compile(r"([A-Za-z0-9_-]{1,64})/(\d{1,18})/(\d{12,18})\.[A-Za-z0-9]{1,8}")


def _expired_meanwhile(name: str, expirable: set[tuple[str, int, int]]) -> bool:
    """Whether a stored object that vanished during the backup was a segment of the live buffer (in the database's
    snapshot, or written after it), which the worker expires at any time; a clip's segment or a key never is."""
    match = _SEGMENT_NAME.fullmatch(name)
    if match is None:
        return False
    media_id, camera, index = match[1], int(match[2]), int(match[3])
    if (media_id, camera, index) in expirable:
        return True
    return not LiveSegment.objects.filter(admission__media_id=media_id, camera_id=camera, index=index).exists()


def _drop_expired(names: list[str]) -> None:
    """On restore: the rows of live-buffer segments that expired while the backup was taken, and what was copied of
    them, so that no row names a segment the restored store does not hold."""
    from cradle.retention.service import SEGMENT_OBJECTS

    store = segment_store()
    for name in names:
        match = _SEGMENT_NAME.fullmatch(name)
        if match is None:
            continue
        media_id, camera, index = match[1], int(match[2]), int(match[3])
        LiveSegment.objects.filter(admission__media_id=media_id, camera_id=camera, index=index, in_clip=False).delete()
        for variant in SEGMENT_OBJECTS:
            store.delete(media_id, str(camera), index, variant)


def _database_is_empty() -> bool:
    return not (User.objects.exists() or Admission.objects.exists() or Event.objects.exists())


def restore(source: str | Path, *, replace: bool = False) -> Figures:
    """Restores a backup into this installation, then destroys again every key the shred ledger lists, and the keys
    and media of admissions the restored database does not know.

    The whole file is decrypted and checked before anything is changed. An installation that already holds data is
    refused unless `replace` (its database is then wiped; stored objects of the backup overwrite those of the same
    name).
    """
    from cradle.retention import service

    started = time.monotonic()
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"{source} does not exist or is not a file.")
    master = MasterKey.load(settings.MASTER_KEY_FILE)
    ledger = service.ledger()
    ledger.entries()  # an altered ledger stops the restore before anything changes
    with tempfile.TemporaryDirectory(prefix="cradle-restore-") as folder:
        plain = Path(folder) / "backup.tar"
        with open(source, "rb") as handle, open(plain, "wb") as sink:
            for chunk in _open_chunks(handle, master, source.name):
                sink.write(chunk)
        try:
            archive = tarfile.open(plain, mode="r:")  # noqa: SIM115 - closed by the with below, once it opened
        except tarfile.TarError:
            raise BackupError(f"{source.name} does not hold a Cradle backup archive.") from None
        with archive:
            manifest = json.loads(_read(archive, "manifest.json"))
            if manifest.get("format") not in (1, FORMAT):
                raise BackupError(f"{source.name} was written by another version of Cradle.")
            if manifest["secret_key"] != _secret_digest():
                raise BackupError(
                    "This backup was made with another secret key; put the original secret_key file (or "
                    "CRADLE_SECRET_KEY) in place first."
                )
            if not _database_is_empty() and not replace:
                raise BackupError("This installation already holds data; restore into an empty one, or pass --replace.")
            database = Path(folder) / "database.json"
            database.write_bytes(_read(archive, "database.json"))
            store = segment_store()
            objects = 0
            with transaction.atomic():
                if replace:
                    _wipe()
                call_command("loaddata", str(database), verbosity=0)
                if manifest["format"] >= 2:
                    audit_dump.load(_lines(archive, "audit.jsonl"))
                # Sessions are not in the backup: the devices that were signed in are signed out.
                DeviceSession.objects.filter(ended_at__isnull=True).update(
                    ended_at=timezone.now(), end_reason=DeviceSession.EndReason.ACCESS_ENDED
                )
            # The restored log is anchored where the backup's anchor stood, so that a log cut or rewritten before the
            # backup was taken is still found; the record of this restore, below, moves the anchor on to the new head.
            anchor_before = audit_dump.anchor_restored(manifest.get("audit_checkpoint"))
            destroyed = ledger.media_ids()
            for member in archive:
                prefix, _, name = member.name.partition("/")
                if prefix not in ("media", "keys") or not member.isfile():
                    continue
                # Nothing of an admission whose key was destroyed is written back, not even for a moment.
                if name.partition("/")[0] in destroyed:
                    continue
                backend = store.media_backend if prefix == "media" else store.key_backend
                backend.put(name, _extract(archive, member).read())
                objects += 1
            _drop_expired(manifest.get("expired_meanwhile", []))
            database_bytes = database.stat().st_size
            if manifest["format"] >= 2:
                database_bytes += archive.getmember("audit.jsonl").size
    forget()  # no data key read before the restore stays cached
    # The database rows of admissions destroyed after this backup was taken came back with it; mark them again.
    shredded = service.replay_ledger()
    # What the restored database does not know (admissions made after the backup was taken) has no row left to
    # expire by: destroyed now, like shredding, and listed in the ledger.
    unknown = service.shred_unknown("restore")
    figures = Figures(
        source.stat().st_size, objects, database_bytes, time.monotonic() - started, shredded, len(unknown)
    )
    record(
        None,
        Action.BACKUP_RESTORED,
        objects=objects,
        shredded_again=shredded,
        unknown_destroyed=unknown,
        anchor_before=anchor_before,
    )
    return figures


def _wipe() -> None:
    """Empties every table (the audit log too, which only a sanctioned wipe may do) before a replacing restore."""
    postgres = connection.vendor == "postgresql"
    if postgres:
        # TRUNCATE refuses tables with deferred foreign-key checks still pending in this transaction.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with maintenance():
        call_command("flush", interactive=False, verbosity=0)
    if postgres:
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # loaddata inserts rows before those they refer to


def _extract(archive: tarfile.TarFile, member: tarfile.TarInfo) -> IO[bytes]:
    if (handle := archive.extractfile(member)) is None:
        raise BackupError(f"The backup's {member.name} is not a file; it is not a Cradle backup.")
    return handle


def _lines(archive: tarfile.TarFile, name: str) -> IO[bytes]:
    try:
        return _extract(archive, archive.getmember(name))
    except KeyError:
        raise BackupError(f"The backup has no {name}; it is not a complete Cradle backup.") from None


def _read(archive: tarfile.TarFile, name: str) -> bytes:
    try:
        member = archive.getmember(name)
    except KeyError:
        raise BackupError(f"The backup has no {name}; it is not a complete Cradle backup.") from None
    return _extract(archive, member).read()
