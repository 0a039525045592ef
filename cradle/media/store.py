"""Encrypted segment storage: one data key per admission, wrapped by a master key, AES-256-GCM for every object.

The associated data of each segment names its admission, camera, index and variant, so a ciphertext moved to any other
place fails to decrypt instead of playing there. Destroying an admission's wrapped data key makes every copy of its
media unreadable, wherever the ciphertexts went (crypto-shredding).
"""

from __future__ import annotations

import base64
import binascii
import builtins
import contextlib
import os
import re
import secrets
import stat
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
NONCE_BYTES = 12
FORMAT = b"\x01"  # leading byte of every sealed object, so that a later format can be told apart
MASTER_KEY_PREFIX = "cradle-master-key-v1:"
# Ids go into object names and associated data: a small alphabet keeps both unambiguous and free of path tricks.
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_VARIANT = re.compile(r"[A-Za-z0-9]{1,8}")
_UNITS = re.compile(r"[AB]{2,8}")
# Both names hold a '.', which ids cannot, so no admission or camera folder can ever collide with them.
_KEY_OBJECT = "{admission}/datakey.sealed"
_CHECK_OBJECT = "master-key.check"
# How the names of a local write in progress begin (never a valid object name).
TEMPORARY = ".tmp-"


class MasterKeyError(Exception):
    """The master key file is missing, unsafe or not the key the storage was sealed with; the message says which."""


class StoreError(Exception):
    """An object could not be stored or read back; the message is one sentence."""


class ObjectMissing(StoreError):
    """No object under that name."""


class ObjectExists(StoreError):
    """An exclusive write found an object already there."""


class Unreadable(StoreError):
    """A sealed object failed authentication: altered, moved to another place, or its key destroyed."""


@dataclass(frozen=True, slots=True)
class MasterKey:
    """The key that wraps every admission's data key; it lives in a file only its owner can read."""

    secret: bytes = field(repr=False)

    @classmethod
    def load(cls, path: str | Path) -> MasterKey:
        """The master key in `path`; refuses a missing file, one others can read, or one that is not a master key."""
        path = Path(path)
        try:
            info = path.stat()
        except FileNotFoundError:
            raise MasterKeyError(
                f"The master key file {path} does not exist; create it with `cradle init` "
                "or point CRADLE_MASTER_KEY_FILE at it."
            ) from None
        if not stat.S_ISREG(info.st_mode):
            raise MasterKeyError(f"The master key path {path} is not a regular file; point it at the key file.")
        if info.st_mode & 0o077:
            raise MasterKeyError(
                f"The master key file {path} has mode {stat.S_IMODE(info.st_mode):04o}; run `chmod 600 {path}`."
            )
        text = path.read_text(encoding="ascii", errors="replace").strip()
        secret = b""
        if text.startswith(MASTER_KEY_PREFIX):
            with contextlib.suppress(binascii.Error, ValueError):
                secret = base64.urlsafe_b64decode(text[len(MASTER_KEY_PREFIX) :].encode("ascii"))
        if len(secret) != KEY_BYTES:
            raise MasterKeyError(
                f"The master key file {path} does not hold a Cradle master key; restore it from your backup."
            )
        return cls(secret)

    @classmethod
    def create(cls, path: str | Path) -> MasterKey:
        """A new random master key written to `path` with mode 0600; never replaces an existing file."""
        path = Path(path)
        key = cls(secrets.token_bytes(KEY_BYTES))
        text = MASTER_KEY_PREFIX + base64.urlsafe_b64encode(key.secret).decode("ascii") + "\n"
        if not path.parent.is_dir():
            raise MasterKeyError(f"The folder for the master key, {path.parent}, does not exist; create it first.")
        descriptor, temporary = tempfile.mkstemp(prefix=".master-key-", dir=path.parent)  # mkstemp makes it 0600
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            # A hard link appears complete or not at all, and unlike rename it refuses to replace a file.
            os.link(temporary, path)
        except FileExistsError:
            raise MasterKeyError(f"The master key file {path} already exists; it was left untouched.") from None
        finally:
            os.unlink(temporary)
        return key

    def wrap(self, data_key: bytes, admission: str) -> bytes:
        """A data key sealed for one admission."""
        return _seal(self.secret, data_key, _key_aad(admission))

    def unwrap(self, wrapped: bytes, admission: str) -> bytes:
        """The data key of `admission`; a wrong master key or another admission's key fails."""
        try:
            return _open(self.secret, wrapped, _key_aad(admission))
        except Unreadable:
            raise MasterKeyError(
                f"The data key of admission {admission} cannot be unwrapped: the master key is not the one it was "
                "sealed with, or the key was altered."
            ) from None


def _key_aad(admission: str) -> bytes:
    return f"cradle.datakey|{admission}".encode()


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return FORMAT + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _open(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    if len(sealed) < 1 + NONCE_BYTES + 16 or sealed[:1] != FORMAT:
        raise Unreadable("not a sealed Cradle object")
    try:
        return AESGCM(key).decrypt(sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :], aad)
    except InvalidTag:
        raise Unreadable("authentication failed") from None


# --- where the ciphertexts go -------------------------------------------------------------------------------------


class Backend(Protocol):
    """Somewhere to keep opaque bytes by name ("adm-1/cam-2/000000000017.A"); it never sees plaintext."""

    def put(self, name: str, data: bytes, *, exclusive: bool = False) -> None:
        """Store `data` under `name`, replacing what was there unless `exclusive` (then raise ObjectExists)."""
        ...

    def get(self, name: str) -> bytes:
        """The bytes under `name`; ObjectMissing when there are none."""
        ...

    def delete(self, name: str) -> None:
        """Remove `name`; nothing happens when it is already gone."""
        ...

    def list(self, prefix: str) -> list[str]:
        """Names that start with `prefix`, sorted."""
        ...

    def unfinished(self, prefix: str = "", older_than_s: float = 0.0) -> builtins.list[str]:
        """Writes that a crash cut off (temporary files), under `prefix` and older than `older_than_s`; backends
        that write objects whole have none."""
        ...

    def sweep(self, prefix: str = "", older_than_s: float = 0.0) -> int:
        """Removes the unfinished writes `unfinished` names; gives how many."""
        ...


def _check_name(name: str) -> list[str]:
    parts = name.split("/")
    if not all(part and not part.startswith(".") and re.fullmatch(r"[A-Za-z0-9_.-]+", part) for part in parts):
        raise StoreError(f"{name!r} is not a valid object name; use letters, digits, '_', '-', '.' and '/'.")
    return parts


class LocalDisk:
    """A Backend on a local folder: one directory per admission, files written whole via a temporary file.

    With `scrub`, deleting overwrites a file in place first, so that a plain undelete cannot bring back a wrapped
    data key; use it for the keys' backend (copy-on-write file systems and SSDs may still keep old blocks, and the
    master key is what protects those).
    """

    def __init__(self, root: str | Path, scrub: bool = False) -> None:
        self.root = Path(root)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.scrub = scrub

    def _path(self, name: str) -> Path:
        return self.root.joinpath(*_check_name(name))

    def put(self, name: str, data: bytes, *, exclusive: bool = False) -> None:
        path = self._path(name)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=TEMPORARY, dir=path.parent)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if exclusive:
                try:
                    os.link(temporary, path)
                except FileExistsError:
                    raise ObjectExists(f"{name} already exists.") from None
            else:
                os.replace(temporary, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)

    def get(self, name: str) -> bytes:
        try:
            return self._path(name).read_bytes()
        except FileNotFoundError:
            raise ObjectMissing(f"{name} is not stored.") from None

    def delete(self, name: str) -> None:
        path = self._path(name)
        with contextlib.suppress(FileNotFoundError):
            if self.scrub:
                size = path.stat().st_size
                with open(path, "r+b") as handle:
                    handle.write(secrets.token_bytes(size))
                    handle.flush()
                    os.fsync(handle.fileno())
            path.unlink()

    def list(self, prefix: str) -> list[str]:
        return [p.relative_to(self.root).as_posix() for p in self._files(prefix, temporary=False)]

    def unfinished(self, prefix: str = "", older_than_s: float = 0.0) -> builtins.list[str]:
        # Temporary files of writes that a kill -9 or a power cut stopped: sealed like any object, but they must not
        # outlive their admission, so shredding and the retention run remove them and verify looks at them.
        cutoff = time.time() - older_than_s
        return [
            p.relative_to(self.root).as_posix()
            for p in self._files(prefix, temporary=True)
            if older_than_s <= 0 or _modified(p) < cutoff
        ]

    def sweep(self, prefix: str = "", older_than_s: float = 0.0) -> int:
        removed = 0
        for name in self.unfinished(prefix, older_than_s):
            with contextlib.suppress(FileNotFoundError):
                self.root.joinpath(name).unlink()
                removed += 1
        return removed

    def _files(self, prefix: str, temporary: bool) -> builtins.list[Path]:
        folder = prefix.rpartition("/")[0]
        base = self._path(folder) if folder else self.root
        found = []
        for path in base.rglob("*") if base.is_dir() else ():
            # Objects are never dot-files; of the dot-files, only temporaries are Cradle's.
            wanted = path.name.startswith(TEMPORARY) if temporary else not path.name.startswith(".")
            if wanted and path.is_file() and path.relative_to(self.root).as_posix().startswith(prefix):
                found.append(path)
        return sorted(found)


def _modified(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return time.time()


# --- segments -----------------------------------------------------------------------------------------------------


class SegmentStore:
    """Seals segments with their admission's data key and keeps them in a backend.

    Wrapped data keys go to `keys` (by default the same backend; a separate LocalDisk with scrub, or the database,
    keeps them apart from the media). Opening checks the master key against a marker
    sealed on first use, so a wrong key stops start-up instead of surfacing later as unreadable video.
    """

    def __init__(self, media: Backend, master: MasterKey, keys: Backend | None = None) -> None:
        self._media = media
        self._keys = keys or media
        self._master = master
        self._data_keys: dict[str, bytes] = {}
        self._check_master()

    def _check_master(self) -> None:
        aad = b"cradle.masterkey.check"
        try:
            marker = self._keys.get(_CHECK_OBJECT)
        except ObjectMissing:
            with contextlib.suppress(ObjectExists):
                self._keys.put(_CHECK_OBJECT, _seal(self._master.secret, b"", aad), exclusive=True)
            marker = self._keys.get(_CHECK_OBJECT)
        try:
            _open(self._master.secret, marker, aad)
        except Unreadable:
            raise MasterKeyError(
                "The master key does not match the one this storage was sealed with; restore the right key file."
            ) from None

    def check(self) -> None:
        """Reads the master key's marker back from storage (readiness): raises when the storage cannot be reached,
        MasterKeyError when the master key does not open what it holds."""
        self._check_master()

    def admit(self, admission: str) -> None:
        """Give `admission` its own random data key (once; later calls keep the first)."""
        _check_id(admission)
        name = _KEY_OBJECT.format(admission=admission)
        data_key = secrets.token_bytes(KEY_BYTES)
        # Exclusive, so two workers admitting at once cannot each seal segments under a different key.
        with contextlib.suppress(ObjectExists):
            self._keys.put(name, self._master.wrap(data_key, admission), exclusive=True)

    def _data_key(self, admission: str) -> bytes:
        if admission not in self._data_keys:
            try:
                wrapped = self._keys.get(_KEY_OBJECT.format(admission=admission))
            except ObjectMissing:
                raise Unreadable(
                    f"Admission {admission} has no data key: it was never admitted or its media was destroyed."
                ) from None
            self._data_keys[admission] = self._master.unwrap(wrapped, admission)
        return self._data_keys[admission]

    def derive_key(self, admission: str, purpose: str, length: int = 16) -> bytes:
        """A key for `purpose` drawn from the admission's data key (HKDF): shredding the admission destroys it too."""
        _check_id(admission)
        info = f"cradle.derived.v1|{admission}|{purpose}".encode()
        return HKDF(hashes.SHA256(), length, salt=None, info=info).derive(self._data_key(admission))

    def put(self, admission: str, camera: str, segment: int, variant: str, data: bytes) -> None:
        """Seal and store one segment file (variant "A", "B", or "ref" for the unmarked reference)."""
        name, aad = _place(admission, camera, segment, variant)
        self._media.put(name, _seal(self._data_key(admission), data, aad))

    def get(self, admission: str, camera: str, segment: int, variant: str) -> bytes:
        """The plaintext of one stored segment; Unreadable if it was altered, moved, or its key destroyed.

        A variant of two or more letters A/B is a segment of that many mark units, one letter per unit ("AB": unit 0
        of variant A, unit 1 of variant B), joined from the units' own objects "A0", "B1" (cradle.media.hls).
        """
        if _UNITS.fullmatch(variant):
            return b"".join(self.get(admission, camera, segment, f"{v}{u}") for u, v in enumerate(variant))
        name, aad = _place(admission, camera, segment, variant)
        sealed = self._media.get(name)
        data_key = self._data_key(admission)
        try:
            return _open(data_key, sealed, aad)
        except Unreadable:
            raise Unreadable(
                f"Segment {segment} variant {variant} of camera {camera} in admission {admission} cannot be "
                "decrypted: it was altered or does not belong there."
            ) from None

    def delete(self, admission: str, camera: str, segment: int, variant: str) -> None:
        """Remove one stored segment (the rolling live buffer's expiry)."""
        self._media.delete(_place(admission, camera, segment, variant)[0])

    def segments(self, admission: str, camera: str) -> list[tuple[int, str]]:
        """(index, variant) of every stored segment of one camera in one admission."""
        _check_id(admission)
        _check_id(camera)
        found = []
        for name in self._media.list(f"{admission}/{camera}/"):
            stem, _, variant = name.rsplit("/", 1)[1].partition(".")
            if stem.isdigit():
                found.append((int(stem), variant))
        return sorted(found)

    @property
    def media_backend(self) -> Backend:
        """Where the sealed segments are (retention's verify and backups read it as it is)."""
        return self._media

    @property
    def key_backend(self) -> Backend:
        """Where the wrapped data keys are; the same object as `media_backend` unless they were kept apart."""
        return self._keys

    def has_key(self, admission: str) -> bool:
        """Whether the admission's wrapped data key is still stored."""
        _check_id(admission)
        try:
            self._keys.get(_KEY_OBJECT.format(admission=admission))
        except ObjectMissing:
            return False
        return True

    def open_object(self, name: str) -> bytes:
        """The plaintext of a stored segment given by its object name; Unreadable when it cannot be decrypted."""
        admission, camera, leaf = [*name.split("/"), "", ""][:3]
        stem, _, variant = leaf.partition(".")
        if not stem.isdigit():
            raise StoreError(f"{name} is not a segment object name.")
        return self.get(admission, camera, int(stem), variant)

    def shred(self, admission: str) -> None:
        """Destroy the admission's data key, then its objects: every copy, backups included, becomes unreadable."""
        _check_id(admission)
        self._keys.delete(_KEY_OBJECT.format(admission=admission))
        self._data_keys.pop(admission, None)
        for name in self._media.list(f"{admission}/"):
            self._media.delete(name)
        # Writes a crash cut off: sealed too, but nothing of the admission may stay (a wrapped key above all).
        self._media.sweep(f"{admission}/")
        if self._keys is not self._media:
            self._keys.sweep(f"{admission}/")


def _check_id(value: str) -> None:
    if not _ID.fullmatch(value):
        raise StoreError(f"{value!r} is not a valid admission or camera id; use up to 64 letters, digits, '_' or '-'.")


def _place(admission: str, camera: str, segment: int, variant: str) -> tuple[str, bytes]:
    _check_id(admission)
    _check_id(camera)
    if not _VARIANT.fullmatch(variant) or segment < 0:
        raise StoreError(f"segment {segment} variant {variant!r} is not a valid segment address")
    name = f"{admission}/{camera}/{segment:012d}.{variant}"
    return name, f"cradle.segment.v1|{admission}|{camera}|{segment}|{variant}".encode()
