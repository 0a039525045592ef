"""Care-team updates end to end in Chromium, with the real pipeline, a real SMTP server and the real background queue.

The browser side is tests/e2e/updates_flow.mjs. This test gives it a ward whose simulated camera is recorded by the
pipeline worker, a parent with an e-mail address, a relative the parents chose not to show updates to, and a privacy
officer; the database queue runs in a thread as `cradle worker` runs it, and every message the SMTP server accepts is
left in a folder the flow reads. Screenshots go to artifacts/e2e/updates/.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from cradle import tasks
from cradle.audit.models import Event
from cradle.unit.models import Admission, Bed, Camera, FamilyMembership, StaffMembership, Unit
from cradle.updates.models import RelativeView, Update
from tests.conftest import PASSWORD, TOTP_SECRET, make_user
from tests.e2e.conftest import ROOT, run_flow
from tests.e2e.test_live_view import _wait_for_segments, worker  # noqa: F401 - the pipeline worker fixture
from tests.smtp_server import body, smtp_server

TEXT = "She finished all her milk and is sleeping peacefully under the blanket."


@pytest.fixture
def mail_dir(settings, tmp_path):
    """A real SMTP server whose messages are written to a folder, one file per recipient."""
    folder = tmp_path / "mail"
    folder.mkdir()
    with smtp_server() as (keeper, port):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        stop = threading.Event()

        def write_out() -> None:
            written = 0
            while not stop.wait(0.2):
                for message in keeper.messages[written:]:
                    (folder / f"{message['X-Envelope-To']}.txt").write_text(message["Subject"] + "\n" + body(message))
                    written += 1

        thread = threading.Thread(target=write_out, daemon=True)
        thread.start()
        try:
            yield folder
        finally:
            stop.set()
            thread.join(timeout=5)


@pytest.fixture
def queue(transactional_db):
    """The background queue, run as `cradle worker` runs it."""
    stop = threading.Event()
    thread = threading.Thread(target=tasks.run_queue, args=(stop, 0.5), name="e2e queue", daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=20)


@pytest.mark.e2e
def test_nurse_sends_an_update_the_parent_is_told_a_limited_relative_is_not_the_officer_finds_it(
    browser_tools,
    transactional_db,
    live_server,
    worker,  # noqa: F811 - the fixture imported above
    mail_dir,
    queue,
    settings,
) -> None:
    settings.SITE_URL = live_server.url
    unit = Unit.objects.create(name="Neonatal ICU", code="nicu")
    nurse = make_user("nurse_e2e", "Nurse Chen", totp=True)
    StaffMembership.objects.create(user=nurse, unit=unit, role=StaffMembership.Role.NURSE)
    officer = make_user("privacy_e2e", "Officer Li", totp=True)
    StaffMembership.objects.create(user=officer, unit=unit, role=StaffMembership.Role.PRIVACY_OFFICER)
    bed = Bed.objects.create(unit=unit, label="7")
    Camera.objects.create(bed=bed, source_url="sim://e2e-bed?size=320x240&fps=10&lang=zh", state=Camera.State.OFFLINE)
    admission = Admission.objects.create(unit=unit, bed=bed, admitted_by=nurse, nickname="Pip")
    parent = make_user("mum_e2e", "Mum", totp=True)
    parent.email = "mum@example.com"
    parent.save()
    FamilyMembership.objects.create(user=parent, admission=admission, role=FamilyMembership.Role.PARENT)
    relative = make_user("uncle_e2e", "Uncle Bo", totp=True)
    relative.email = "uncle@example.com"
    relative.save()
    limited = FamilyMembership.objects.create(
        user=relative, admission=admission, role=FamilyMembership.Role.RELATIVE, invited_by=parent
    )
    RelativeView.objects.create(membership=limited, sees_updates=False)
    _wait_for_segments(admission, worker)

    artifacts = ROOT / "artifacts" / "e2e" / "updates"
    people = {"NURSE": nurse, "PARENT": parent, "RELATIVE": relative, "OFFICER": officer}
    flow = {
        "BASE_URL": live_server.url,
        "ARTIFACTS": str(artifacts),
        "BED_ID": str(bed.pk),
        "ADMISSION_ID": str(admission.pk),
        "MAIL_DIR": str(mail_dir),
        "UPDATE_TEXT": TEXT,
        "BABY_NAME": "Bed 7 · Pip",
        "PARENT_EMAIL": parent.email,
    }
    for role, user in people.items():
        flow |= {f"{role}_USERNAME": user.username, f"{role}_PASSWORD": PASSWORD, f"{role}_TOTP_SECRET": TOTP_SECRET}
    run_flow("updates_flow.mjs", flow, timeout=300)

    update = Update.objects.get(admission=admission)
    assert update.has_photo and update.photo_source == "live" and update.author == nurse
    # The relative the parents limited was neither told nor shown it.
    assert not Path(mail_dir / "uncle@example.com.txt").exists()
    assert not Event.objects.filter(actor_id=relative.pk, action__in=["update.view", "update.photo"]).exists()
    assert Event.objects.filter(actor_id=parent.pk, action="update.photo", outcome="ok").exists()
    assert Event.objects.filter(actor_id=officer.pk, action="audit.search").exists()
    for name in ("timeline-en.png", "timeline-zh.png", "audit-search-en.png", "audit-search-zh.png"):
        assert (artifacts / name).stat().st_size > 0
