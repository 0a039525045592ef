"""Stored segments are sealed to their place: nothing readable on disk or elsewhere, nothing after shredding."""

from __future__ import annotations

import os
import stat

import pytest

from cradle.media.store import (
    LocalDisk,
    MasterKey,
    MasterKeyError,
    ObjectExists,
    SegmentStore,
    StoreError,
    Unreadable,
)

pytestmark = pytest.mark.nodb

SEGMENT = b"\x47" + b"NICU-SEGMENT-PLAINTEXT " * 200


@pytest.fixture
def master(tmp_path):
    return MasterKey.create(tmp_path / "master.key")


@pytest.fixture
def store(tmp_path, master):
    store = SegmentStore(LocalDisk(tmp_path / "media"), master)
    store.admit("adm-1")
    store.admit("adm-2")
    return store


def _files(folder):
    return [path for path in folder.rglob("*") if path.is_file()]


def test_segment_round_trips_and_no_plaintext_reaches_the_disk(tmp_path, store):
    store.put("adm-1", "cam-1", 7, "A", SEGMENT)
    store.put("adm-1", "cam-1", 7, "B", SEGMENT[::-1])
    store.put("adm-1", "cam-1", 8, "ref", b"reference")
    assert store.get("adm-1", "cam-1", 7, "A") == SEGMENT
    assert store.get("adm-1", "cam-1", 7, "B") == SEGMENT[::-1]
    assert store.segments("adm-1", "cam-1") == [(7, "A"), (7, "B"), (8, "ref")]
    files = _files(tmp_path / "media")
    assert files and not [p for p in files if p.name.startswith(".tmp-")]
    for path in files:
        data = path.read_bytes()
        assert b"NICU-SEGMENT" not in data and b"reference" not in data
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0
    # One folder per admission.
    assert {p.relative_to(tmp_path / "media").parts[0] for p in files} >= {"adm-1"}


@pytest.mark.parametrize(
    "elsewhere",
    [
        ("adm-2", "cam-1", 7, "A"),  # another baby
        ("adm-1", "cam-2", 7, "A"),  # another camera
        ("adm-1", "cam-1", 8, "A"),  # another second
        ("adm-1", "cam-1", 7, "B"),  # the other variant: a viewer cannot swap in the bit they did not get
    ],
)
def test_a_segment_copied_to_another_place_does_not_decrypt(tmp_path, store, elsewhere):
    store.put("adm-1", "cam-1", 7, "A", SEGMENT)
    media = LocalDisk(tmp_path / "media")
    sealed = media.get("adm-1/cam-1/000000000007.A")
    admission, camera, index, variant = elsewhere
    media.put(f"{admission}/{camera}/{index:012d}.{variant}", sealed)
    with pytest.raises(Unreadable, match="cannot be decrypted"):
        store.get(admission, camera, index, variant)


def test_an_altered_segment_does_not_decrypt(tmp_path, store):
    store.put("adm-1", "cam-1", 3, "A", SEGMENT)
    media = LocalDisk(tmp_path / "media")
    sealed = bytearray(media.get("adm-1/cam-1/000000000003.A"))
    sealed[40] ^= 1
    media.put("adm-1/cam-1/000000000003.A", bytes(sealed))
    with pytest.raises(Unreadable):
        store.get("adm-1", "cam-1", 3, "A")


def test_each_admission_has_its_own_data_key(tmp_path, store):
    store.put("adm-1", "cam-1", 0, "A", SEGMENT)
    store.put("adm-2", "cam-1", 0, "A", SEGMENT)
    media = LocalDisk(tmp_path / "media")
    assert media.get("adm-1/datakey.sealed") != media.get("adm-2/datakey.sealed")
    # Admitting again keeps the key, so earlier segments stay readable.
    store.admit("adm-1")
    assert SegmentStore(media, MasterKey.load(tmp_path / "master.key")).get("adm-1", "cam-1", 0, "A") == SEGMENT


def test_a_wrong_master_key_stops_start_up(tmp_path, store):
    store.put("adm-1", "cam-1", 0, "A", SEGMENT)
    other = MasterKey.create(tmp_path / "other.key")
    with pytest.raises(MasterKeyError, match="does not match"):
        SegmentStore(LocalDisk(tmp_path / "media"), other)


def test_a_wrong_master_key_cannot_unwrap_a_data_key(tmp_path, store, master):
    media = LocalDisk(tmp_path / "media")
    wrapped = media.get("adm-1/datakey.sealed")
    assert len(master.unwrap(wrapped, "adm-1")) == 32
    with pytest.raises(MasterKeyError, match="cannot be unwrapped"):
        MasterKey.create(tmp_path / "other.key").unwrap(wrapped, "adm-1")
    with pytest.raises(MasterKeyError):
        master.unwrap(wrapped, "adm-2")  # a key moved to another admission


def test_after_shredding_nothing_of_the_admission_decrypts(tmp_path, store, master):
    store.put("adm-1", "cam-1", 0, "A", SEGMENT)
    store.put("adm-2", "cam-1", 0, "A", SEGMENT)
    media = LocalDisk(tmp_path / "media")
    backup = {name: media.get(name) for name in media.list("adm-1/")}  # a copy taken before discharge
    store.shred("adm-1")
    assert media.list("adm-1/") == []
    for name, data in backup.items():
        if name.endswith(".A"):
            media.put(name, data)  # the backup restored
    fresh = SegmentStore(media, master)
    for reader in (store, fresh):
        with pytest.raises(Unreadable, match="no data key"):
            reader.get("adm-1", "cam-1", 0, "A")
    assert fresh.get("adm-2", "cam-1", 0, "A") == SEGMENT


def test_shredding_scrubs_the_wrapped_key_in_place(tmp_path, master):
    keys = LocalDisk(tmp_path / "keys", scrub=True)
    store = SegmentStore(LocalDisk(tmp_path / "media"), master, keys=keys)
    store.admit("adm-1")
    path = tmp_path / "keys" / "adm-1" / "datakey.sealed"
    before = path.read_bytes()
    handle = os.open(path, os.O_RDONLY)  # an open handle sees the same blocks after unlink
    try:
        store.shred("adm-1")
        assert not path.exists()
        after = os.pread(handle, len(before), 0)
    finally:
        os.close(handle)
    assert after != before


def test_master_key_file_is_created_0600_and_loads_back(tmp_path):
    path = tmp_path / "master.key"
    created = MasterKey.create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert MasterKey.load(path) == created
    assert created.secret.hex() not in repr(created)


def test_master_key_is_never_overwritten(tmp_path):
    path = tmp_path / "master.key"
    MasterKey.create(path)
    before = path.read_bytes()
    with pytest.raises(MasterKeyError, match="already exists"):
        MasterKey.create(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["master.key"]


def test_master_key_refuses_a_missing_file(tmp_path):
    with pytest.raises(MasterKeyError, match="does not exist"):
        MasterKey.load(tmp_path / "absent.key")


def test_master_key_refuses_a_file_others_can_read(tmp_path):
    path = tmp_path / "master.key"
    MasterKey.create(path)
    path.chmod(0o644)
    with pytest.raises(MasterKeyError, match="chmod 600"):
        MasterKey.load(path)


@pytest.mark.parametrize(
    "content",
    [b"", b"cradle-master-key-v1:c2hvcnQ=\n", b"cradle-master-key-v1:not base64!!\n", os.urandom(32)],
)
def test_master_key_refuses_a_file_that_is_not_a_key(tmp_path, content):
    path = tmp_path / "master.key"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(MasterKeyError, match="does not hold a Cradle master key"):
        MasterKey.load(path)


def test_exclusive_put_refuses_to_replace(tmp_path):
    disk = LocalDisk(tmp_path / "d")
    disk.put("adm-1/x", b"1", exclusive=True)
    with pytest.raises(ObjectExists):
        disk.put("adm-1/x", b"2", exclusive=True)
    assert disk.get("adm-1/x") == b"1"


@pytest.mark.parametrize("name", ["../escape", "adm-1/../../x", "/abs", "adm-1//x", "adm-1/.hidden"])
def test_object_names_cannot_leave_the_store(tmp_path, name):
    with pytest.raises(StoreError):
        LocalDisk(tmp_path / "d").put(name, b"x")
    assert not (tmp_path / "escape").exists() and not (tmp_path / "x").exists()


def test_ids_that_would_blur_the_associated_data_are_refused(store):
    with pytest.raises(StoreError):
        store.put("adm-1|cam-1", "cam-1", 0, "A", SEGMENT)
    with pytest.raises(StoreError):
        store.put("adm-1", "cam-1", -1, "A", SEGMENT)
