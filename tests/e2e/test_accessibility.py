"""axe-core over every page, for every role, in both languages, on a phone: no serious or critical violation.

The browser side is tests/e2e/a11y.mjs, one shared Chromium for all the pages. This test gives it a ward with a person
of every role, a baby with a real clip and a finished keepsake, a free bed and a second unit.
"""

from __future__ import annotations

import re
from fractions import Fraction

import pytest
from django.utils import timezone

from cradle.media.frames import SafeFrame
from cradle.media.hls import segments
from cradle.media.sim import SimCamera, SimSettings
from cradle.unit.models import Admission, Bed, Camera, FamilyMembership, StaffMembership, Unit
from cradle.viewing import clips, keepsake, storage
from cradle.viewing.models import Keepsake, LiveSegment
from tests.conftest import PASSWORD, TOTP_SECRET, make_user
from tests.e2e.conftest import run_flow


def _clip_of(admission: Admission, camera: Camera, seconds: int = 2):
    """A clip of real, marked segments of a small simulated bed, as the pipeline would have stored them."""
    sim = SimCamera(SimSettings(bed="a11y", width=160, height=120, fps=10, seed=5))
    frames = [SafeFrame(sim.frame(i).image, i, i * 9000, Fraction(1, 90000), 0.0, False) for i in range(10 * seconds)]
    store = storage.segment_store()
    store.admit(admission.media_id)
    for seg in segments(frames, storage.mark_key(), str(camera.pk), 160, 120, 10):
        for variant, data in (("A", seg.a), ("B", seg.b), ("ref", seg.reference)):
            store.put(admission.media_id, str(camera.pk), seg.index, variant, data)
        LiveSegment.objects.create(
            camera=camera,
            admission=admission,
            index=seg.index,
            started_at=timezone.now(),
            duration=seg.duration,
            frames=seg.frames,
        )
    return clips.record(admission, seconds)


@pytest.mark.e2e
def test_no_serious_accessibility_violation_on_any_page(browser_tools, transactional_db, live_server) -> None:
    # Each pass over the pages issues invitations (both languages, both colours): room for all of them.
    unit = Unit.objects.create(name="Neonatal ICU", code="nicu", relative_cap=20)
    other = Unit.objects.create(name="Special Care Nursery", code="scn")
    people = {
        "NURSE": make_user("nurse_a11y", "Nurse Chen", totp=True),
        "PRIVACY": make_user("privacy_a11y", "Privacy Officer", totp=True),
        "ADMIN": make_user("admin_a11y", "Administrator", totp=True),
        "PARENT": make_user("mum_a11y", "Mum", totp=True),
        "RELATIVE": make_user("gran_a11y", "Gran", totp=True),
    }
    for key, role in (
        ("NURSE", StaffMembership.Role.NURSE),
        ("PRIVACY", StaffMembership.Role.PRIVACY_OFFICER),
        ("ADMIN", StaffMembership.Role.ADMINISTRATOR),
    ):
        StaffMembership.objects.create(user=people[key], unit=unit, role=role)
    bed = Bed.objects.create(unit=unit, label="7")
    camera = Camera.objects.create(bed=bed, source_url="sim://a11y", state=Camera.State.LIVE)
    free = Bed.objects.create(unit=unit, label="9")
    Camera.objects.create(bed=free, source_url="sim://a11y-free")
    Bed.objects.create(unit=other, label="1")
    admission = Admission.objects.create(unit=unit, bed=bed, admitted_by=people["NURSE"])
    FamilyMembership.objects.create(user=people["PARENT"], admission=admission, role=FamilyMembership.Role.PARENT)
    FamilyMembership.objects.create(user=people["RELATIVE"], admission=admission, role=FamilyMembership.Role.RELATIVE)
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    RecoveryCodes.activate(people["PARENT"])
    clip = _clip_of(admission, camera)
    from cradle.accounts.models import DeviceSession

    device = DeviceSession.objects.create(
        user=people["PARENT"], session_key="a11y-keepsake", idle_timeout_s=1800, lifetime_s=43200
    )
    # A care-team update with a photo and a clip, so that the baby's timeline shows one.
    import numpy as np

    from cradle.updates import photos, sealed
    from cradle.updates.models import Update

    update = Update.objects.create(
        admission=admission, has_photo=True, photo_source="live", clip=clip, sent_at=timezone.now()
    )
    sealed.put_text(update, "Slept well after the evening feed.")
    sealed.put_photo(update, photos._jpeg(np.full((240, 320, 3), 150, np.uint8)))
    kept = keepsake.reserve(people["PARENT"], clip, 5, device)
    keepsake.run_pending()
    assert Keepsake.objects.get(pk=kept.pk).state == Keepsake.State.READY

    out = run_flow(
        "a11y.mjs",
        {
            "BASE_URL": live_server.url,
            "ADMISSION_ID": str(admission.pk),
            "CLIP_ID": str(clip.pk),
            "KEEPSAKE_ID": str(kept.pk),
            "FREE_BED_ID": str(free.pk),
            "BED_ID": str(bed.pk),
            "UNIT_ID": str(unit.pk),
            "OTHER_UNIT_ID": str(other.pk),
            "PASSWORD": PASSWORD,
            "TOTP_SECRET": TOTP_SECRET,
            **{key: user.username for key, user in people.items()},
        },
        timeout=420,
    )
    lines = re.findall(r"^axe: (\S+) (\S+) (\S+) .*critical (\d+), serious (\d+)", out, re.MULTILINE)
    # Every role in both languages, and the family's pages in dark colours too.
    assert {(role, lang) for role, lang, *_ in lines} == {
        (role, lang)
        for role in ("anonymous", "parent", "relative", "nurse", "privacy", "admin")
        for lang in ("en", "zh-hans")
    }
    assert {role for role, _lang, scheme, *_ in lines if scheme == "dark"} == {"parent", "relative"}
    assert all(critical == "0" and serious == "0" for *_rest, critical, serious in lines)
