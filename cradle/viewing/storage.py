"""The segment store of this installation and the keys derived from its master key."""

from __future__ import annotations

import threading

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from cradle.media.store import LocalDisk, MasterKey, SegmentStore

_lock = threading.Lock()
_cached: dict[tuple[str, str], tuple[SegmentStore, bytes]] = {}


def _open() -> tuple[SegmentStore, bytes]:
    where = (str(settings.MASTER_KEY_FILE), str(settings.MEDIA_DIR))
    with _lock:
        if where not in _cached:
            master = MasterKey.load(settings.MASTER_KEY_FILE)
            store = SegmentStore(LocalDisk(settings.MEDIA_DIR), master)
            mark_key = HKDF(hashes.SHA256(), 32, salt=None, info=b"cradle.mark.v1").derive(master.secret)
            _cached[where] = (store, mark_key)
        return _cached[where]


def segment_store() -> SegmentStore:
    """The store; raises MasterKeyError with a clear sentence when the master key is missing or wrong."""
    return _open()[0]


def mark_key() -> bytes:
    """The secret behind every forensic mark; derived from the master key so that there is one secret to guard."""
    return _open()[1]


def forget() -> None:
    """Drops the open store (tests point the settings elsewhere)."""
    with _lock:
        _cached.clear()
