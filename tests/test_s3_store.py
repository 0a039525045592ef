"""Sealed segments on S3: a real Ceph radosgw started by scripts/s3-gateway, reached through boto3."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from cradle.keystore.database import DatabaseKeys
from cradle.keystore.models import WrappedKey
from cradle.media.s3 import S3Bucket
from cradle.media.store import MasterKey, ObjectExists, ObjectMissing, SegmentStore, StoreError, Unreadable
from cradle.viewing import storage
from tests.s3_gateway import Gateway, missing_tools, running_gateway
from tests.test_viewing import playlist_urls, stored


@pytest.fixture(scope="session")
def gateway() -> Gateway:
    """One gateway for the whole run; skipped where Ceph is not installed, except in CI, where that fails."""
    reason = missing_tools()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the S3 tests, but {reason}")
        pytest.skip(reason)
    with pytest.MonkeyPatch.context() as patch, running_gateway() as running:
        # The standard AWS variables, as an installation would set them; no instance metadata lookups on loopback.
        patch.setenv("AWS_ACCESS_KEY_ID", running.access_key)
        patch.setenv("AWS_SECRET_ACCESS_KEY", running.secret_key)
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        print(f"S3 gateway ready in {running.start_s:.1f} s")  # shown by `pytest -rP`
        yield running


@pytest.fixture
def bucket(gateway: Gateway) -> S3Bucket:
    """A folder of the bucket for one test."""
    return S3Bucket.from_url(gateway.storage_url(f"t-{uuid.uuid4().hex[:12]}"))


@pytest.fixture
def master(tmp_path) -> MasterKey:
    return MasterKey.create(tmp_path / "master.key")


@pytest.fixture
def unused_port() -> int:
    """A loopback port with nothing listening (bound and released, so it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.nodb
def test_segments_round_trip_through_the_store_and_the_bucket_holds_only_ciphertext(bucket, master):
    store = SegmentStore(bucket, master)
    store.admit("adm-1")
    picture = b"\x47" + b"one second of the baby at bed 7 " * 100
    for index in range(3):
        for variant in ("A", "B", "ref"):
            store.put("adm-1", "cam-2", index, variant, picture + f"{index}{variant}".encode())
    assert store.get("adm-1", "cam-2", 1, "B") == picture + b"1B"
    assert store.segments("adm-1", "cam-2") == [(i, v) for i in range(3) for v in ("A", "B", "ref")]
    sealed = bucket.get("adm-1/cam-2/000000000001.B")
    assert b"baby at bed 7" not in sealed and len(sealed) > len(picture)
    # A second process on the same bucket and master key reads the same segments.
    assert SegmentStore(S3Bucket.from_url(_url_of(bucket)), master).get("adm-1", "cam-2", 2, "ref").endswith(b"2ref")


@pytest.mark.nodb
def test_a_wrong_secret_is_refused_in_one_sentence(gateway, bucket, monkeypatch):
    bucket.put("adm-1/kept", b"sealed")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", gateway.secret_key[:-4] + "abcd")
    impostor = S3Bucket.from_url(_url_of(bucket))
    for attempt in (impostor.check, lambda: impostor.get("adm-1/kept"), lambda: impostor.put("adm-1/new", b"x")):
        with pytest.raises(StoreError, match=r"refused Cradle's credentials \(SignatureDoesNotMatch\)") as refused:
            attempt()
        assert "\n" not in str(refused.value)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "NOSUCHKEY")
    with pytest.raises(StoreError, match="InvalidAccessKeyId"):
        S3Bucket.from_url(_url_of(bucket)).check()
    assert bucket.list("adm-1/") == ["adm-1/kept"]


@pytest.mark.nodb
def test_a_missing_bucket_and_an_unreachable_endpoint_are_named(gateway, unused_port):
    with pytest.raises(StoreError, match=r"^The bucket no-such-bucket does not exist at http://127\.0\.0\.1:\d+;"):
        S3Bucket.from_url(f"s3://no-such-bucket?endpoint={gateway.endpoint}").check()
    with pytest.raises(StoreError, match=rf"^The object store at http://127.0.0.1:{unused_port} cannot be reached;"):
        S3Bucket.from_url(f"s3://cradle?endpoint=http://127.0.0.1:{unused_port}").check()


@pytest.mark.nodb
def test_an_exclusive_put_refuses_an_existing_object_and_keeps_it(bucket):
    bucket.put("adm-1/datakey.sealed", b"first", exclusive=True)
    with pytest.raises(ObjectExists):
        bucket.put("adm-1/datakey.sealed", b"second", exclusive=True)
    assert bucket.get("adm-1/datakey.sealed") == b"first"
    bucket.put("adm-1/datakey.sealed", b"replaced")  # a plain put replaces, as on local disk
    assert bucket.get("adm-1/datakey.sealed") == b"replaced"


@pytest.mark.nodb
def test_of_workers_racing_to_write_the_same_key_exactly_one_wins(bucket):
    for attempt in range(3):
        name, start, winners = f"adm-{attempt}/datakey.sealed", threading.Barrier(8), []

        def admit(worker: int, name: str = name, start: threading.Barrier = start, winners: list = winners) -> None:
            start.wait()
            with contextlib.suppress(ObjectExists):
                bucket.put(name, f"key of worker {worker}".encode(), exclusive=True)
                winners.append(worker)

        racers = [threading.Thread(target=admit, args=(worker,)) for worker in range(8)]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join()
        assert len(winners) == 1
        assert bucket.get(name) == f"key of worker {winners[0]}".encode()


@pytest.mark.nodb
def test_list_by_prefix_and_delete(bucket):
    names = ["adm-1/cam-1/000000000002.A", "adm-1/cam-1/000000000001.B", "adm-1/cam-10/000000000001.A", "adm-2/x"]
    for name in names:
        bucket.put(name, name.encode())
    assert bucket.list("adm-1/cam-1/") == ["adm-1/cam-1/000000000001.B", "adm-1/cam-1/000000000002.A"]
    assert bucket.list("adm-1/") == sorted(names[:3])
    assert bucket.list("adm-3/") == []
    bucket.delete("adm-1/cam-1/000000000001.B")
    bucket.delete("adm-1/cam-1/000000000001.B")  # already gone: nothing happens
    with pytest.raises(ObjectMissing):
        bucket.get("adm-1/cam-1/000000000001.B")
    assert bucket.list("") == sorted(set(names) - {"adm-1/cam-1/000000000001.B"})
    with pytest.raises(StoreError, match="not a valid object name"):
        bucket.put("../escape", b"x")


def test_shred_leaves_even_kept_copies_undecryptable(db, bucket, master):
    # As configured for S3: media in the bucket, wrapped data keys in the database.
    store = SegmentStore(bucket, master, keys=DatabaseKeys())
    for admission in ("adm-1", "adm-2"):
        store.admit(admission)
        for index in range(4):
            store.put(admission, "cam-1", index, "A", f"{admission} second {index}".encode())
    # What a bucket replica, an old object version or a backup of the bucket would still hold after the shred.
    copies = {name: bucket.get(name) for name in bucket.list("adm-1/")}
    assert len(copies) == 4
    store.shred("adm-1")
    assert bucket.list("adm-1/") == [] and not WrappedKey.objects.filter(name__startswith="adm-1/").exists()
    for name, sealed in copies.items():
        bucket.put(name, sealed)
    fresh = SegmentStore(S3Bucket.from_url(_url_of(bucket)), master, keys=DatabaseKeys())  # nothing cached
    for index in range(4):
        with pytest.raises(Unreadable, match="has no data key"):
            fresh.get("adm-1", "cam-1", index, "A")
    assert fresh.get("adm-2", "cam-1", 3, "A") == b"adm-2 second 3"


@pytest.mark.nodb
@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:8080/cradle", "is not of the form s3://bucket"),
        ("s3://Cradle_Media?endpoint=http://127.0.0.1:8080", "is not a valid bucket name"),
        ("s3://cradle?endpoint=127.0.0.1:8080", "is not an http:// or https:// address"),
        ("s3://cradle?endpiont=http://127.0.0.1:8080", "unknown settings (endpiont)"),
    ],
)
def test_a_malformed_storage_url_gets_one_sentence(url, says):
    with pytest.raises(StoreError) as refused:
        S3Bucket.from_url(url)
    assert says in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.nodb
def test_the_worker_does_not_start_on_an_unreachable_store(settings, unused_port):
    settings.STORAGE_URL = f"s3://cradle?endpoint=http://127.0.0.1:{unused_port}"
    storage.forget()
    try:
        with pytest.raises(CommandError, match=r"^The object store at .* cannot be reached; check the endpoint"):
            call_command("worker")
    finally:
        storage.forget()


def test_wrapped_keys_in_the_database_behave_like_any_backend(db):
    keys = DatabaseKeys()
    keys.put("adm-1/datakey.sealed", b"first", exclusive=True)
    with pytest.raises(ObjectExists):
        keys.put("adm-1/datakey.sealed", b"second", exclusive=True)
    keys.put("adm-2/datakey.sealed", b"other")
    keys.put("adm-2/datakey.sealed", b"replaced")
    assert keys.get("adm-1/datakey.sealed") == b"first" and keys.get("adm-2/datakey.sealed") == b"replaced"
    assert keys.list("adm-") == ["adm-1/datakey.sealed", "adm-2/datakey.sealed"]
    keys.delete("adm-1/datakey.sealed")
    keys.delete("adm-1/datakey.sealed")
    with pytest.raises(ObjectMissing):
        keys.get("adm-1/datakey.sealed")


def test_a_parent_watches_segments_sealed_into_s3_through_the_segment_view(world, gateway, settings):
    settings.STORAGE_URL = gateway.storage_url(f"t-{uuid.uuid4().hex[:12]}")
    storage.forget()
    try:
        fam = world.families["a"]
        stored(fam)
        media_id, camera = fam.admission.media_id, str(fam.bed.camera.pk)
        bucket = S3Bucket.from_url(settings.STORAGE_URL)
        assert len(bucket.list(f"{media_id}/{camera}/")) == 27  # 9 segments, A, B and ref, sealed in the bucket
        # The data key is in the database, not beside the media.
        assert WrappedKey.objects.filter(name=f"{media_id}/datakey.sealed").exists()
        assert bucket.list(f"{media_id}/datakey") == [] and bucket.list("master-key") == []
        client = world.client("parent_a")
        urls = playlist_urls(client, fam)
        assert urls
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200 and response["Content-Type"] == "video/mp2t"
            variant, _camera, index = response.content.decode().split(":")
            assert response.content == storage.segment_store().get(media_id, camera, int(index), variant)
            assert response.content == f"{variant}:{camera}:{index}".encode()
        assert world.client("parent_b").get(urls[0]).status_code == 404
    finally:
        storage.forget()


def _url_of(bucket: S3Bucket) -> str:
    return f"s3://{bucket.bucket}/{bucket.prefix.rstrip('/')}?endpoint={bucket.endpoint}&region=default"
