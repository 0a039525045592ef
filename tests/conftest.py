"""A small ward for the tests: two units, two families, every role."""

from __future__ import annotations

import atexit
import base64
import dataclasses
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from django.conf import settings
from django.db import transaction
from django.test import Client, override_settings
from django.utils import timezone

from cradle.accounts.models import DeviceSession, User
from cradle.media.store import MasterKey
from cradle.unit import invitations
from cradle.unit.models import Admission, Bed, Camera, FamilyMembership, StaffMembership, Unit
from cradle.viewing.models import Clip, LiveSegment
from tests.webauthn_credential import registration

TOTP_SECRET = base64.b32encode(b"cradle-test-secret!!").decode()

# Media of the test run goes to a folder of its own, under a master key made for it.
MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="cradle-test-media-"))
atexit.register(shutil.rmtree, MEDIA_ROOT, ignore_errors=True)
settings.MASTER_KEY_FILE = MEDIA_ROOT / "master.key"
settings.MEDIA_DIR = MEDIA_ROOT / "media"
settings.STORAGE_URL = ""  # local disk, whatever the shell says; tests/test_s3_store.py points it at a real gateway
settings.SHRED_LEDGER_FILE = MEDIA_ROOT / "shred.ledger"
settings.AUDIT_ANCHOR_FILE = MEDIA_ROOT / "audit.anchor"
settings.AUDIT_SYSLOG = ""
settings.AUDIT_SPOOL_FILE = MEDIA_ROOT / "audit.spool"
MasterKey.create(settings.MASTER_KEY_FILE)
# Audit events are written at once in tests; tests/test_audit_batch.py covers batching on its own.
settings.CRADLE = dataclasses.replace(settings.CRADLE, audit_batch_seconds=0)
PASSWORD = "correct horse battery staple"
QUICK_HASHERS = ["tests.hashers.QuickArgon2PasswordHasher"]


@dataclass
class Family:
    admission: Admission
    bed: Bed
    unit: Unit
    parent: User
    relative: User
    relative_membership: FamilyMembership
    parent_membership: FamilyMembership
    invitation_id: int
    device: DeviceSession
    webauthn_id: int
    clip_id: int


@dataclass
class World:
    unit1: Unit
    unit2: Unit
    users: dict[str, User | None] = field(default_factory=dict)
    families: dict[str, Family] = field(default_factory=dict)

    def client(self, actor: str | None) -> Client:
        c = Client()
        user = self.users.get(actor) if actor else None
        if user is not None:
            sign_in(c, user)
        return c


def sign_in(client: Client, user: User) -> None:
    """Signs in as a person who has just confirmed their password, so that re-authentication is not asked."""
    client.force_login(user)
    reauthenticated(client, user)


def reauthenticated(client: Client, user: User) -> None:
    """Marks the signed-in session of `client` as having confirmed `user`'s password just now."""
    session = client.session
    session["account_authentication_methods"] = [
        {"method": "password", "at": time.time(), "username": user.username, "reauthenticated": True}
    ]
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()


SIGN_IN = "/accounts/login/"
SECOND_STEP = "/accounts/2fa/authenticate/"


TOTP_MARGIN_S = 3.0


def totp_code() -> str:
    """The code an authenticator app set up with TOTP_SECRET shows now. Near the end of a 30 s period it waits for the
    next one, as a person would, so that a busy machine cannot carry the form past the code's period (Cradle takes
    the current period's code only)."""
    import time

    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time

    left = 30 - time.time() % 30
    if left < TOTP_MARGIN_S:
        time.sleep(left + 0.05)

    counters = list(yield_hotp_counters_from_time())
    return format_hotp_value(hotp_value(TOTP_SECRET, counters[len(counters) // 2]))


def fresh_totp_code(user: User) -> str:
    """The app's code now, usable by this person. allauth takes a code once per 30 s period; a test that signs the
    same person in twice within one period forgets that use, as the app's next code would."""
    from django.core.cache import cache

    code = totp_code()
    authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    cache.delete(TOTP(authenticator)._get_used_cache_key(code))
    return code


def sign_in_by_form(client: Client, username: str, password: str = PASSWORD, code: str | None = None, **extra):
    """Signs in through the real forms: the password, then the authenticator code when the second step asks for it
    (the app's current code unless `code` is given). Gives the last response."""
    response = client.post(SIGN_IN, {"login": username, "password": password}, **extra)
    if response.status_code == 302 and response["Location"].startswith(SECOND_STEP):
        if code is None:
            code = fresh_totp_code(User.objects.get(username=username.lower()))
        response = client.post(SECOND_STEP, {"code": code}, **extra)
    return response


def make_user(username: str, name: str | None = None, totp: bool = False) -> User:
    user = User.objects.create_user(username, PASSWORD, display_name=name or username.title())
    if totp:
        TOTP.activate(user, TOTP_SECRET)
    return user


def _family(tag: str, unit: Unit, nurse: User) -> Family:
    bed = Bed.objects.create(unit=unit, label=f"{tag}1")
    Camera.objects.create(bed=bed, source_url=f"sim://{tag}", state=Camera.State.LIVE)
    admission = Admission.objects.create(unit=unit, bed=bed, admitted_by=nurse)
    parent = make_user(f"parent_{tag}", f"Parent {tag.upper()}")
    # Parents have a passkey, relatives an authenticator app: the units require a second step to watch.
    relative = make_user(f"relative_{tag}", f"Relative {tag.upper()}", totp=True)
    pm = FamilyMembership.objects.create(user=parent, admission=admission, role="parent")
    rm = FamilyMembership.objects.create(user=relative, admission=admission, role="relative", invited_by=parent)
    inv, _code = invitations.issue(admission, "relative", parent)
    device = DeviceSession.objects.create(
        user=parent, session_key=f"unused-{tag}", idle_timeout_s=1800, lifetime_s=43200
    )
    key = Authenticator.objects.create(
        user=parent,
        type=Authenticator.Type.WEBAUTHN,
        data={"name": f"phone {tag}", "credential": registration()},
    )
    if tag == "a":
        RecoveryCodes.activate(parent)
    segment = LiveSegment.objects.create(
        camera=bed.camera, admission=admission, index=0, started_at=timezone.now(), duration=1.0, in_clip=True
    )
    clip = Clip.objects.create(admission=admission, camera=bed.camera, duration=1.0)
    clip.segments.set([segment])
    return Family(admission, bed, unit, parent, relative, rm, pm, inv.pk, device, key.pk, clip.pk)


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    settings.PASSWORD_HASHERS = QUICK_HASHERS


@pytest.fixture(autouse=True)
def audit_anchor(tmp_path_factory) -> Iterator[Path]:
    """Each test's audit log is anchored in a file of its own, as a new installation's is: the database is rolled back
    or wiped between tests, and checkpoints left by one test would name events the next one never had."""
    from cradle.audit.anchor import Anchor, Checkpoint
    from cradle.audit.keys import audit_keys
    from cradle.audit.models import GENESIS

    previous = settings.AUDIT_ANCHOR_FILE
    path = tmp_path_factory.mktemp("audit-anchor") / "audit.anchor"
    Anchor(path, audit_keys().anchor).reset(Checkpoint.now(0, GENESIS, keyed_from=1))
    settings.AUDIT_ANCHOR_FILE = path
    yield path
    settings.AUDIT_ANCHOR_FILE = previous


@pytest.fixture(autouse=True)
def fresh_fast_path():
    """Grants and cached rows of one test never reach the next (rolled-back ids are used again)."""
    from cradle.viewing import grants

    grants.cache().reset()
    yield
    grants.cache().reset()


@pytest.fixture
def world(db) -> World:
    return make_world()


def make_world() -> World:
    """Two units with their staff, and a family with a baby, a camera and a clip in each."""
    unit1 = Unit.objects.create(name="Neonatal ICU", code="nicu")
    unit2 = Unit.objects.create(name="Special Care Nursery", code="scn")
    w = World(unit1, unit2)
    staff = {
        "nurse1": (unit1, "nurse"),
        "nurse2": (unit2, "nurse"),
        "privacy": (unit1, "privacy_officer"),
        "admin": (unit1, "administrator"),
    }
    for name, (unit, role) in staff.items():
        user = make_user(name, totp=True)
        StaffMembership.objects.create(user=user, unit=unit, role=role)
        w.users[name] = user
    w.families["a"] = _family("a", unit1, w.users["nurse1"])
    w.families["b"] = _family("b", unit2, w.users["nurse2"])
    for tag, fam in w.families.items():
        w.users[f"parent_{tag}"] = fam.parent
        w.users[f"relative_{tag}"] = fam.relative
    return w


@pytest.fixture(scope="module")
def module_world(django_db_setup, django_db_blocker) -> Iterator[World]:
    """One ward for every test of a module, for modules whose fixtures are too costly to build per test.

    Its rows, and whatever module-scoped fixtures build on it, live in a transaction around the whole module that is
    rolled back after the module's last test. Each test still needs `db` (its own savepoint inside that transaction, so
    what one test changes never reaches the next), and the module must have no transactional test, whose flush would
    end the transaction.
    """
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
    try:
        with django_db_blocker.unblock(), override_settings(PASSWORD_HASHERS=QUICK_HASHERS):
            made = make_world()
        yield made
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def _flush_in_maintenance() -> None:
    """Transactional tests wipe the database between tests; the audit guard must let that through."""
    from django.core.management.commands import flush

    from cradle.audit.guard import maintenance

    original = flush.Command.handle

    def handle(self, *args, **options):
        with maintenance():
            return original(self, *args, **options)

    flush.Command.handle = handle


_flush_in_maintenance()


@pytest.fixture
def fresh_storage(settings, tmp_path):
    """Media storage and shred ledger of this test alone (retention's verify scans everything that is stored)."""
    from cradle.viewing import storage

    settings.MEDIA_DIR = tmp_path / "media"
    settings.SHRED_LEDGER_FILE = tmp_path / "shred.ledger"
    storage.forget()
    yield tmp_path
    storage.forget()
