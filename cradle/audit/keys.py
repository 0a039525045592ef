"""The audit log's two keys, derived from the master key: one seals the chain's links, one the anchor's checkpoints.

They live only in the memory of Cradle's processes, never in the database, so that whoever can write the database
cannot compute a link or a checkpoint that verifies. The master key is read once per process (and again only when its
file is replaced), not once per event: appends are on the path of every media fetch.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from cradle.media.store import MasterKey

CHAIN_INFO = b"cradle.audit-chain.v1"
ANCHOR_INFO = b"cradle.audit-anchor.v1"

_lock = threading.Lock()
_cached: dict[tuple, AuditKeys] = {}


@dataclass(frozen=True, slots=True)
class AuditKeys:
    chain: bytes = field(repr=False)
    anchor: bytes = field(repr=False)


def derive(master: MasterKey) -> AuditKeys:
    def key(info: bytes) -> bytes:
        return HKDF(hashes.SHA256(), 32, salt=None, info=info).derive(master.secret)

    return AuditKeys(chain=key(CHAIN_INFO), anchor=key(ANCHOR_INFO))


def audit_keys() -> AuditKeys:
    """This installation's audit keys; raises MasterKeyError (one sentence) when the master key is missing or unsafe."""
    path = Path(settings.MASTER_KEY_FILE)
    try:
        info = path.stat()
        where: tuple = (str(path), info.st_ino, info.st_mtime_ns)
    except OSError:
        where = (str(path),)  # MasterKey.load below says what is wrong
    keys = _cached.get(where)
    if keys is None:
        with _lock:
            keys = _cached.get(where)
            if keys is None:
                keys = derive(MasterKey.load(path))
                _cached.clear()  # one master key at a time: a replaced file's keys are dropped
                _cached[where] = keys
    return keys
