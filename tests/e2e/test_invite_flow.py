"""The invitation flow end to end in Chromium: a nurse prints a slip, a parent joins with it and adds an authenticator.

The browser side is tests/e2e/invite_flow.mjs (Playwright); this test gives it a ward on a live server and then
checks what the flow left in the database.
"""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator

from cradle.accounts.models import User
from cradle.unit.models import Admission, Bed, Camera, FamilyMembership, StaffMembership, Unit
from tests.conftest import PASSWORD, TOTP_SECRET, make_user
from tests.e2e.conftest import run_flow

PARENT_USERNAME = "mum_e2e"


@pytest.mark.e2e
def test_parent_joins_from_a_printed_slip_and_sees_the_baby(browser_tools, transactional_db, live_server) -> None:
    unit = Unit.objects.create(name="Neonatal ICU", code="nicu")
    bed = Bed.objects.create(unit=unit, label="7")
    Camera.objects.create(bed=bed, source_url="sim://e2e", state=Camera.State.LIVE)
    nurse = make_user("nurse_e2e", "Nurse Chen", totp=True)
    StaffMembership.objects.create(user=nurse, unit=unit, role=StaffMembership.Role.NURSE)

    run_flow(
        "invite_flow.mjs",
        {
            "BASE_URL": live_server.url,
            "NURSE_USERNAME": nurse.username,
            "NURSE_PASSWORD": PASSWORD,
            "NURSE_TOTP_SECRET": TOTP_SECRET,
            "BED_ID": str(bed.pk),
            "PARENT_NAME": "Mum",
            "PARENT_USERNAME": PARENT_USERNAME,
            "PARENT_PASSWORD": "a long walk by the river at dawn",
        },
        timeout=180,
    )

    admission = Admission.objects.get(bed=bed, discharged_at__isnull=True)
    parent = User.objects.get(username=PARENT_USERNAME)
    assert parent.display_name == "Mum"
    assert FamilyMembership.objects.filter(
        user=parent, admission=admission, role=FamilyMembership.Role.PARENT, revoked_at__isnull=True
    ).exists()
    assert Authenticator.objects.filter(user=parent, type=Authenticator.Type.TOTP).exists()
