"""Notifications: queued on the request path, sent by the background queue to a real SMTP server and a real (local)
push service, encrypted for the browser (RFC 8291) and signed (VAPID), as each person chose, and never naming the
baby."""

from __future__ import annotations

import json
import os
import stat
import struct
from datetime import time, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from cradle import lifecycle
from cradle.audit.models import Event
from cradle.notifications import outbox, webpush
from cradle.notifications.models import Notice, PauseWatch, Preference, PushSubscription
from cradle.unit.models import Admission
from cradle.updates.models import RelativeView
from tests.push_service import push_service
from tests.smtp_server import body, free_port, smtp_server

b64 = webpush.b64url
WORDS = "Tolerated her first bottle, sleeping now."


@pytest.fixture
def smtp(settings):
    with smtp_server() as (keeper, port):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        yield keeper


@pytest.fixture
def addresses(world):
    fam = world.families["a"]
    Admission.objects.filter(pk=fam.admission.pk).update(nickname="Little Dragon")
    fam.admission.refresh_from_db()
    for user, address in ((fam.parent, "mum@example.com"), (fam.relative, "grandpa@example.com")):
        user.email = address
        user.save()
    return fam


def _send_update(world, fam):
    response = world.client("nurse1").post(reverse("compose_update", args=[fam.admission.pk]), {"text": WORDS})
    assert response.status_code == 302
    return response


def _secrets(fam) -> list[str]:
    return ["Little Dragon", fam.bed.label, fam.unit.name, fam.unit.code, WORDS, f"/babies/{fam.admission.pk}"]


def test_a_new_update_is_mailed_later_through_a_real_smtp_server_without_naming_the_baby(world, smtp, addresses):
    fam = addresses
    _send_update(world, fam)
    assert smtp.messages == []  # nothing is sent while the nurse waits
    assert Notice.objects.filter(sent_at__isnull=True).count() == 2
    assert outbox.send_due() == 2
    assert sorted(m["X-Envelope-To"] for m in smtp.messages) == ["grandpa@example.com", "mum@example.com"]
    for message in smtp.messages:
        text = message["Subject"] + body(message)
        assert "The care team sent you an update in Cradle." in text and "http://localhost:8000/" in text
        assert len(message["To"].split(",")) == 1 and not message["Cc"]
        for secret in _secrets(fam):
            assert secret not in text
    assert Notice.objects.filter(outcome="sent").count() == 2


def test_a_relative_the_parents_limited_is_not_told_of_updates(world, smtp, addresses):
    fam = addresses
    RelativeView.objects.create(membership=fam.relative_membership, sees_updates=False)
    _send_update(world, fam)
    outbox.send_due()
    assert [m["X-Envelope-To"] for m in smtp.messages] == ["mum@example.com"]


def test_each_person_chooses_what_and_when(world, smtp, addresses):
    fam = addresses
    Preference.objects.create(user=fam.relative, update=False)
    # The parent is in Shanghai and wants quiet from 22:00 to 07:00.
    Preference.objects.create(
        user=fam.parent, quiet_from=time(22, 0), quiet_until=time(7, 0), time_zone="Asia/Shanghai"
    )
    _send_update(world, fam)
    night = timezone.now().replace(year=2026, month=3, day=1, hour=15, minute=30)  # 23:30 in Shanghai
    Notice.objects.update(created_at=night, due_at=night)
    assert outbox.send_due(night) == 0 and smtp.messages == []
    assert Notice.objects.get(user=fam.relative).outcome == "off"
    waiting = Notice.objects.get(user=fam.parent)
    assert waiting.sent_at is None and timezone.localtime(waiting.due_at, outbox.zone("Asia/Shanghai")).hour == 7
    assert outbox.send_due(waiting.due_at) == 1
    assert [m["X-Envelope-To"] for m in smtp.messages] == ["mum@example.com"]


def test_a_daily_message_gathers_the_days_news(world, smtp, addresses):
    fam = addresses
    Preference.objects.create(user=fam.parent, digest=True, digest_at=time(19, 0), time_zone="UTC")
    morning = timezone.now().replace(year=2026, month=3, day=1, hour=9, minute=0, second=0, microsecond=0)
    for kind in ("clip", "clip", "update"):
        Notice.objects.create(user=fam.parent, kind=kind, created_at=morning, due_at=morning)
    assert outbox.send_due(morning) == 0
    assert outbox.send_due(morning.replace(hour=19)) == 1
    (message,) = smtp.messages
    assert "2 new clips" in body(message) and "1 update from the care team" in body(message)


def test_a_mail_server_that_is_down_never_breaks_the_request(world, settings, addresses):
    fam = addresses
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    _send_update(world, fam)
    assert outbox.send_due() == 0
    assert set(Notice.objects.values_list("attempts", flat=True)) == {1}
    assert Notice.objects.filter(sent_at__isnull=True).count() == 2  # tried again later


def _decrypt(body: bytes, private: ec.EllipticCurvePrivateKey, auth: bytes) -> bytes:
    """RFC 8291 / RFC 8188 decryption, written from the RFCs with HKDF as the library gives it."""
    salt, rs, idlen = body[:16], *struct.unpack("!IB", body[16:21])
    sender = body[21 : 21 + idlen]
    ciphertext = body[21 + idlen :]
    assert rs == 4096 and len(ciphertext) <= rs
    ua_public = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    shared = private.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sender))
    ikm = HKDF(hashes.SHA256(), 32, auth, b"WebPush: info\x00" + ua_public + sender).derive(shared)
    cek = HKDF(hashes.SHA256(), 16, salt, b"Content-Encoding: aes128gcm\x00").derive(ikm)
    nonce = HKDF(hashes.SHA256(), 12, salt, b"Content-Encoding: nonce\x00").derive(ikm)
    padded = AESGCM(cek).decrypt(nonce, ciphertext, None)
    assert padded.rstrip(b"\x00").endswith(b"\x02")
    return padded.rstrip(b"\x00")[:-1]


def test_web_push_is_encrypted_for_the_browser_and_signed_by_cradle(world, settings, tmp_path, addresses):
    fam = addresses
    settings.VAPID_KEY_FILE = tmp_path / "vapid.pem"
    assert webpush.create_keys(settings.VAPID_KEY_FILE)
    browser = ec.generate_private_key(ec.SECP256R1())
    auth = os.urandom(16)
    raw = browser.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    Preference.objects.create(user=fam.parent, email=False)
    with push_service() as service:
        parent = world.client("parent_a")
        response = parent.post(
            reverse("push_subscribe"),
            json.dumps(
                {
                    "endpoint": service.endpoint("mum"),
                    "keys": {"p256dh": webpush.b64url(raw), "auth": webpush.b64url(auth)},
                }
            ),
            content_type="application/json",
        )
        assert response.status_code == 200
        _send_update(world, fam)
        outbox.send_due()
        (received,) = [r for r in service.received if r.path == "/push/mum"]
    assert received.headers["Content-Encoding"] == "aes128gcm"
    assert WORDS.encode() not in received.body and b"update" not in received.body
    message = json.loads(_decrypt(received.body, browser, auth))
    assert message == {
        "title": "Cradle",
        "body": "The care team sent you an update in Cradle.",
        "url": "http://localhost:8000/",
    }
    scheme, _, rest = received.headers["Authorization"].partition(" ")
    params = dict(p.strip().split("=", 1) for p in rest.split(","))
    assert scheme == "vapid"
    server_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), webpush.unb64url(params["k"]))
    claims = jwt.decode(params["t"], server_key, algorithms=["ES256"], audience=f"http://127.0.0.1:{service.port}")
    assert claims["sub"].startswith("mailto:") and claims["exp"] > timezone.now().timestamp()


def test_a_subscription_the_push_service_has_forgotten_is_dropped(world, settings, tmp_path, addresses):
    fam = addresses
    settings.VAPID_KEY_FILE = tmp_path / "vapid.pem"
    webpush.create_keys(settings.VAPID_KEY_FILE)
    browser = ec.generate_private_key(ec.SECP256R1())
    raw = browser.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    Preference.objects.create(user=fam.parent, email=False)
    with push_service() as service:
        service.status = 410
        PushSubscription.objects.create(
            user=fam.parent,
            endpoint=service.endpoint("old"),
            p256dh=webpush.b64url(raw),
            auth=webpush.b64url(b"a" * 16),
        )
        outbox.tell_family(fam.admission, "clip")
        outbox.send_due()
    assert not PushSubscription.objects.exists()


def test_a_push_address_that_is_not_https_is_refused(world):
    response = world.client("parent_a").post(
        reverse("push_subscribe"),
        json.dumps({"endpoint": "http://push.example.com/x", "keys": {"p256dh": "AAAA", "auth": "AAAA"}}),
        content_type="application/json",
    )
    assert response.status_code == 400 and not PushSubscription.objects.exists()


def test_a_camera_paused_longer_than_usual_tells_the_family_once(world, settings, smtp, addresses):
    fam = addresses
    camera = fam.bed.camera
    camera.paused_until = timezone.now() + timedelta(minutes=20)
    camera.save()
    assert outbox.watch_pauses() == 0
    PauseWatch.objects.update(since=timezone.now() - timedelta(minutes=settings.CRADLE.long_pause_minutes + 1))
    assert outbox.watch_pauses() == 1 and outbox.watch_pauses() == 0
    outbox.send_due()
    assert len(smtp.messages) == 2 and "paused for longer than usual" in body(smtp.messages[0])


def test_discharge_and_transfer_are_told(world, smtp, addresses):
    fam = addresses
    lifecycle.discharge(fam.admission)
    outbox.send_due()
    assert len(smtp.messages) == 2 and "news about your baby's stay" in body(smtp.messages[0])


def test_choices_are_made_on_the_profile_page(world):
    parent = world.client("parent_a")
    page = parent.get(reverse("profile")).content.decode()
    assert 'id="notifications"' in page and 'type="time"' in page
    data = {"clip": "on", "email": "on", "quiet_from": "21:00", "quiet_until": "06:30", "digest_at": "18:00"}
    parent.cookies["cradle_tz"] = "Europe/London"
    assert parent.post(reverse("notification_choices"), data).status_code == 302
    pref = Preference.objects.get(user=world.users["parent_a"])
    assert pref.clip and not pref.update and pref.quiet_from == time(21, 0) and pref.time_zone == "Europe/London"
    assert Event.objects.filter(action="notification.settings_changed").exists()


def test_cradle_init_makes_the_push_key(settings, tmp_path, db):
    settings.MASTER_KEY_FILE = tmp_path / "master.key"
    settings.VAPID_KEY_FILE = tmp_path / "vapid.pem"
    call_command("init", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert stat.S_IMODE(settings.VAPID_KEY_FILE.stat().st_mode) == 0o600
    assert webpush.public_key(webpush.load_key(settings.VAPID_KEY_FILE))


def test_notices_are_written_in_the_language_the_person_reads_cradle_in(world, smtp, addresses):
    fam = addresses
    parent = world.client("parent_a")
    parent.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    parent.get(reverse("baby", args=[fam.admission.pk]))
    assert Preference.objects.get(user=fam.parent).language == "zh-hans"
    _send_update(world, fam)
    outbox.send_due()
    by_address = {m["X-Envelope-To"]: body(m) for m in smtp.messages}
    assert "医护团队在 Cradle 中给您发了一条动态。" in by_address["mum@example.com"]
    assert "The care team sent you an update in Cradle." in by_address["grandpa@example.com"]
