"""The segment store of this installation and the keys derived from its master key.

Media goes to local disk (MEDIA_DIR) unless CRADLE_STORAGE_URL names an S3 bucket. On local disk the wrapped data keys
stay beside the segments, as they always have. With media in object storage they go to the database instead:
- every app server and worker already shares the database, while a local key folder would exist on one machine only;
- the storage team, the bucket's versioning, replication and lifecycle rules then only ever hold ciphertexts whose
  keys are elsewhere, so crypto-shredding an admission is one row deleted in one place instead of an object that an
  older version or a replica may keep;
- an exclusive put is a primary key, which both SQLite and PostgreSQL enforce.
Database backups do carry wrapped keys, as the key folder's backups do on local disk; both need the master key.
"""

from __future__ import annotations

import threading

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from cradle.media.store import Backend, LocalDisk, MasterKey, SegmentStore, StoreError

_lock = threading.Lock()
_cached: dict[tuple[str, str, str], tuple[SegmentStore, bytes]] = {}


def _backends() -> tuple[Backend, Backend | None]:
    """The media backend the settings name, and where the wrapped data keys go (None: beside the media)."""
    url = settings.STORAGE_URL
    if not url:
        return LocalDisk(settings.MEDIA_DIR), None
    if not url.startswith("s3://"):
        raise StoreError(
            f"CRADLE_STORAGE_URL {url!r} is not an s3:// address; leave it unset to keep media in CRADLE_MEDIA_DIR."
        )
    # Imported here so that installations on local disk never load boto3.
    from cradle.keystore.database import DatabaseKeys
    from cradle.media.s3 import S3Bucket

    bucket = S3Bucket.from_url(url)
    bucket.check()  # an unreachable store, refused credentials or a missing bucket stop start-up with one sentence
    return bucket, DatabaseKeys()


def _open() -> tuple[SegmentStore, bytes]:
    where = (str(settings.MASTER_KEY_FILE), str(settings.MEDIA_DIR), settings.STORAGE_URL)
    with _lock:
        if where not in _cached:
            master = MasterKey.load(settings.MASTER_KEY_FILE)
            media, keys = _backends()
            store = SegmentStore(media, master, keys=keys)
            mark_key = HKDF(hashes.SHA256(), 32, salt=None, info=b"cradle.mark.v1").derive(master.secret)
            _cached[where] = (store, mark_key)
        return _cached[where]


def segment_store() -> SegmentStore:
    """The store; raises MasterKeyError or StoreError with a clear sentence when the key or the storage is wrong."""
    return _open()[0]


def mark_key() -> bytes:
    """The secret behind every forensic mark; derived from the master key so that there is one secret to guard."""
    return _open()[1]


def forget() -> None:
    """Drops the open store (tests point the settings elsewhere)."""
    with _lock:
        _cached.clear()
