"""Edge mode: nginx sends the segment bytes, after the app has authorised and audited each fetch.

The app still checks every fetch in full (ticket, session, scope, variant) and writes it to the audit chain; it then
answers with an empty body and `X-Accel-Redirect`, and nginx sends a file from its `internal` location. Those files
are HLS AES-128 (AES-128-CBC, PKCS7) copies of the sealed segments, one per segment and variant, made on the first
authorised fetch. Their keys are drawn from the admission's data key, per camera and epoch of the live picture or per
clip, so nothing readable sits on the edge's disk, and shredding the admission leaves every copy unreadable.
The player fetches a key through its own authorised, audited address (`key_url`), once per epoch or clip.

Copies of the live picture leave with the live buffer and clip copies after `EDGE_CLIP_SECONDS` without use
(`sweep`); `forget` removes an admission's copies at once, at discharge or when its media is destroyed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import logging
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from cradle.viewing.storage import segment_store

_LIVE, _CLIP = "live", "clip"
_SWEEP_EVERY_S = 30.0
_sweep_lock = threading.Lock()
_sweeper: threading.Thread | None = None
log = logging.getLogger(__name__)


def enabled() -> bool:
    """Whether segment bytes go out through nginx (CRADLE_EDGE_DIR is set) rather than from the app."""
    return settings.EDGE_DIR is not None


def _root() -> Path:
    """The edge folder; only asked for in edge mode."""
    if settings.EDGE_DIR is None:
        raise RuntimeError("Edge mode is off: CRADLE_EDGE_DIR is not set.")
    return settings.EDGE_DIR


@dataclass(frozen=True)
class KeyEpoch:
    """What one edge key covers: an epoch of one camera's live picture, or one clip."""

    camera_id: int
    epoch: int = 0
    clip_id: int = 0

    @property
    def info(self) -> str:
        return f"clip:{self.clip_id}" if self.clip_id else f"live:{self.camera_id}:{self.epoch}"

    @property
    def kind(self) -> str:
        return _CLIP if self.clip_id else _LIVE


def epoch_seconds() -> int:
    return settings.CRADLE.edge_key_epoch_seconds


def epoch_of(camera_id: int, started: float, clip_id: int = 0) -> KeyEpoch:
    """The key epoch of a segment that began at `started` (a Unix time), seen live or as part of clip `clip_id`."""
    if clip_id:
        return KeyEpoch(camera_id, 0, clip_id)
    return KeyEpoch(camera_id, int(started) // epoch_seconds())


def key_for(media_id: str, epoch: KeyEpoch) -> bytes:
    """The AES-128 key of one epoch (or clip) of an admission's media."""
    return segment_store().derive_key(media_id, f"cradle.edge.v1|{epoch.info}", 16)


def iv_for(epoch: KeyEpoch, index: int) -> bytes:
    """The CBC initialisation vector of one segment: unique per key and segment, and the same for both variants, so
    that the playlist can carry it without saying which variant the session will get."""
    return hmac.new(_secret("iv"), f"{epoch.info}|{index}".encode(), hashlib.sha256).digest()[:16]


def encrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    """AES-128-CBC with PKCS7 padding, as HLS `METHOD=AES-128` expects."""
    padder = padding.PKCS7(128).padder()
    padded = padder.update(data) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    """The plaintext of an edge copy (tests and checks; players do this themselves)."""
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(data) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def _secret(purpose: str) -> bytes:
    return _derived(settings.SECRET_KEY, purpose)


@functools.lru_cache(maxsize=16)
def _derived(secret_key: str, purpose: str) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None, info=f"cradle.edge.{purpose}".encode()).derive(secret_key.encode())


def _folder(media_id: str) -> str:
    # Named by a keyed digest, so that a listing of the edge folder tells nothing about admissions.
    return hmac.new(_secret("folder"), media_id.encode(), hashlib.sha256).hexdigest()[:32]


def relative_path(media_id: str, epoch: KeyEpoch, index: int, variant: str) -> str:
    """Where a copy lives under the edge folder; the name is keyed and opaque (it does not tell the variant)."""
    name = hmac.new(_secret("name"), f"{media_id}|{epoch.info}|{index}|{variant}".encode(), hashlib.sha256)
    return f"{_folder(media_id)}/{epoch.kind}/{name.hexdigest()[:40]}.ts"


def publish(media_id: str, epoch: KeyEpoch, index: int, variant: str) -> str:
    """The internal address nginx sends the copy from, writing the copy first if there is none.

    Two processes may write the same copy at once: both write identical bytes, and the rename makes either whole.
    Raises StoreError when the sealed segment cannot be read.
    """
    relative = relative_path(media_id, epoch, index, variant)
    path = _root() / relative
    try:
        age = time.time() - path.stat().st_mtime
        # A copy in use stays; sweeping goes by the time since it was last made or refreshed.
        if age > _ttl(epoch.kind) / 2:
            with contextlib.suppress(FileNotFoundError):
                os.utime(path)
    except FileNotFoundError:
        plain = segment_store().get(media_id, str(epoch.camera_id), index, variant)
        _write(path, encrypt(key_for(media_id, epoch), iv_for(epoch, index), plain))
    _start_sweeper()
    return settings.EDGE_LOCATION + relative


def _write(path: Path, data: bytes) -> None:
    # nginx reads the copies as another user of the edge folder's group: folders 0750, files 0640, set explicitly
    # since Cradle's umask keeps everything else to its own user.
    _folders(path.parent)
    descriptor, temporary = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, 0o640)
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _folders(folder: Path) -> None:
    """Makes `folder` and any missing folder above it inside the edge folder, each readable by nginx's group."""
    if folder.is_dir():
        return
    _folders(folder.parent)
    with contextlib.suppress(FileExistsError):
        folder.mkdir()
        os.chmod(folder, 0o750)  # noqa: S103 - nginx reads the copies through its group


def forget(media_id: str) -> None:
    """Removes every edge copy of one admission (discharge, shredding). Safe to call when there are none."""
    if enabled():
        shutil.rmtree(_root() / _folder(media_id), ignore_errors=True)


def _ttl(kind: str) -> float:
    if kind == _LIVE:
        return float(settings.CRADLE.live_buffer_seconds)
    return float(settings.CRADLE.edge_clip_seconds)


def sweep(now: float | None = None) -> int:
    """Removes copies past their time (live: the live buffer; clips: EDGE_CLIP_SECONDS unused); gives how many."""
    if not enabled() or not _root().is_dir():
        return 0
    now = time.time() if now is None else now
    removed = 0
    for folder in _root().iterdir():
        for kind in (_LIVE, _CLIP):
            place = folder / kind
            if not place.is_dir():
                continue
            oldest = now - _ttl(kind)
            for path in place.iterdir():
                with contextlib.suppress(FileNotFoundError):
                    if path.stat().st_mtime < oldest:
                        path.unlink()
                        removed += 1
    return removed


def _start_sweeper() -> None:
    """One thread per process sweeps the edge folder while it serves, so copies expire even when fetches stop."""
    global _sweeper
    if _sweeper is not None and _sweeper.is_alive():
        return
    with _sweep_lock:
        if _sweeper is None or not _sweeper.is_alive():
            _sweeper = threading.Thread(target=_sweep_forever, name="cradle edge sweep", daemon=True)
            _sweeper.start()


def _sweep_forever() -> None:
    while True:
        time.sleep(_SWEEP_EVERY_S)
        try:
            sweep()
        except OSError:
            log.exception("could not sweep the edge folder")
