"""Invitations from issue to redemption: codes, slips, expiry, reuse, caps and revocation."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cradle.accounts.models import DeviceSession, User
from cradle.audit.models import Event
from cradle.unit import invitations
from cradle.unit.models import Admission, Bed, FamilyMembership, Invitation
from tests.conftest import sign_in_by_form

NEUTRAL = "This code cannot be used"
# The code is shown as four groups that never break inside a group: <span>ABCD</span>-<wbr><span>EFGH</span>...
CODE = re.compile(r'id="invitation-code">((?:<span>[0-9A-Z]{4}</span>(?:-<wbr>)?){4})</p>')


def code_on(body: str) -> str | None:
    """The invitation code a slip shows, as typed (ABCD-EFGH-JKMN-PQRS), or None."""
    found = CODE.search(body)
    return "-".join(re.findall(r"<span>([0-9A-Z]{4})</span>", found.group(1))) if found else None


def issue_from_bed_page(nurse: Client, admission: Admission, role: str = "parent") -> tuple[str, str]:
    response = nurse.post(reverse("invite", args=[admission.pk]), {"role": role}, follow=True)
    body = response.content.decode()
    return code_on(body), body


def redeem(code: str, username: str = "newparent", client: Client | None = None) -> Client:
    c = client or Client()
    c.post(reverse("join"), {"code": code})
    c.post(
        reverse("join_account"),
        {
            "display_name": "Mama",
            "username": username,
            "email": "",
            "password1": "a long family passphrase",
            "password2": "a long family passphrase",
        },
    )
    return c


def test_a_nurse_prints_a_slip_with_a_code_a_qr_code_and_no_phi(world):
    admission = world.families["a"].admission
    Admission.objects.filter(pk=admission.pk).update(nickname="Little Star")
    code, slip = issue_from_bed_page(world.client("nurse1"), admission)
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}", code)  # 16 x 5 bits = 80 bits
    assert "<svg" in slip
    assert "Little Star" not in slip and "Baby at bed" not in slip
    invitation = Invitation.objects.latest("pk")
    assert invitation.role == "parent" and invitation.admission_id == admission.pk
    assert invitation.expires_at - invitation.created_at == timedelta(hours=72)
    # Only a keyed digest is stored.
    assert invitation.code_digest != code and code.replace("-", "") not in invitation.code_digest
    assert Event.objects.filter(action="invitation.issued", admission_id=admission.pk).exists()


def test_the_code_is_shown_only_to_the_session_that_made_it(world):
    admission = world.families["a"].admission
    issue_from_bed_page(world.client("nurse1"), admission)
    invitation = Invitation.objects.latest("pk")
    other_session = world.client("nurse1").get(reverse("invitation_slip", args=[invitation.pk]))
    assert other_session.status_code == 200 and not CODE.search(other_session.content.decode())


def test_redeeming_creates_an_own_account_and_asks_for_a_second_factor(world):
    admission = world.families["a"].admission
    code, _ = issue_from_bed_page(world.client("nurse1"), admission)
    c = Client()
    c.post(reverse("join"), {"code": code.lower().replace("-", " ")})  # typed loosely
    response = c.post(
        reverse("join_account"),
        {
            "display_name": "Mama",
            "username": "Mama.Li",
            "password1": "a long family passphrase",
            "password2": "a long family passphrase",
        },
    )
    assert response["Location"] == reverse("mfa_prompt")
    user = User.objects.get(username="mama.li")
    assert user.display_name == "Mama" and user.password.startswith("argon2$")
    assert FamilyMembership.objects.get(user=user).admission_id == admission.pk
    assert c.get(reverse("baby", args=[admission.pk])).status_code == 200
    # Adding a second factor right away does not ask for the password again.
    assert c.get(reverse("mfa_activate_totp")).status_code == 200
    assert Invitation.objects.get(code_digest=invitations.digest(code)).used_by == user


def test_used_expired_revoked_and_unknown_codes_get_the_same_message(world):
    admission = world.families["a"].admission
    nurse = world.client("nurse1")
    used, _ = issue_from_bed_page(nurse, admission)
    redeem(used)
    expired, _ = issue_from_bed_page(nurse, admission, "relative")
    Invitation.objects.filter(code_digest=invitations.digest(expired)).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    revoked, _ = issue_from_bed_page(nurse, admission, "relative")
    nurse.post(reverse("revoke_invitation", args=[Invitation.objects.get(code_digest=invitations.digest(revoked)).pk]))
    unknown = invitations.new_code()
    bodies = set()
    for code in (used, expired, revoked, unknown, "nonsense"):
        response = Client().post(reverse("join"), {"code": code})
        assert response.status_code == 200
        body = response.content.decode()
        assert NEUTRAL in body
        bodies.add(body.count(NEUTRAL))
    assert bodies == {1}


def test_a_code_works_once_even_when_two_people_race(world):
    admission = world.families["a"].admission
    code, _ = issue_from_bed_page(world.client("nurse1"), admission)
    first, second = Client(), Client()
    first.post(reverse("join"), {"code": code})
    second.post(reverse("join"), {"code": code})  # both passed step one
    redeem(code, "first", first)
    response = second.post(
        reverse("join_account"),
        {
            "display_name": "X",
            "username": "second",
            "password1": "a long family passphrase",
            "password2": "a long family passphrase",
        },
        follow=True,
    )
    assert NEUTRAL in response.content.decode()
    assert not User.objects.filter(username="second").exists()
    assert FamilyMembership.objects.filter(admission=admission, user__username="first").count() == 1


def test_parents_invite_relatives_up_to_the_unit_cap(world):
    fam = world.families["a"]
    parent = world.client("parent_a")
    # The fixture family already has one relative and one open relative invitation.
    for _ in range(2):
        response = parent.post(reverse("family_invite", args=[fam.admission.pk]), follow=True)
        assert CODE.search(response.content.decode())
    response = parent.post(reverse("family_invite", args=[fam.admission.pk]), follow=True)
    assert not CODE.search(response.content.decode())
    assert "allows 4 relatives" in response.content.decode()
    world.unit1.relative_cap = 5
    world.unit1.save()
    response = parent.post(reverse("family_invite", args=[fam.admission.pk]), follow=True)
    assert CODE.search(response.content.decode())


def test_relatives_cannot_invite(world):
    fam = world.families["a"]
    assert world.client("relative_a").post(reverse("family_invite", args=[fam.admission.pk])).status_code == 404


def test_a_parent_revokes_a_relative_at_once(world):
    fam = world.families["a"]
    relative = Client()
    sign_in_by_form(relative, "relative_a")
    assert relative.get(reverse("baby", args=[fam.admission.pk])).status_code == 200
    world.client("parent_a").post(reverse("revoke_relative", args=[fam.relative_membership.pk]))
    assert DeviceSession.objects.filter(user=fam.relative, ended_at__isnull=True).count() == 0
    sign_in_by_form(relative, "relative_a")
    assert relative.get(reverse("baby", args=[fam.admission.pk])).status_code == 404
    assert Event.objects.filter(action="family.revoked", admission_id=fam.admission.pk).exists()


def test_a_parent_cannot_revoke_the_other_parent_or_another_familys_relative(world):
    a, b = world.families["a"], world.families["b"]
    parent = world.client("parent_a")
    assert parent.post(reverse("revoke_relative", args=[a.parent_membership.pk])).status_code == 404
    assert parent.post(reverse("revoke_relative", args=[b.relative_membership.pk])).status_code == 404


def test_a_family_member_with_an_account_adds_a_second_baby_to_it(world):
    nurse = world.client("nurse1")
    bed = Bed.objects.create(unit=world.unit1, label="twin")
    nurse.post(reverse("admit", args=[bed.pk]), {"nickname": ""})
    twin = Admission.objects.get(bed=bed)
    code, _ = issue_from_bed_page(nurse, twin, "relative")
    c = world.client("relative_a")
    response = c.post(reverse("join"), {"code": code})
    assert response["Location"] == reverse("baby", args=[twin.pk])
    assert FamilyMembership.objects.filter(user=world.users["relative_a"]).count() == 2


def test_staff_cannot_join_a_family(world):
    code, _ = issue_from_bed_page(world.client("nurse1"), world.families["a"].admission)
    response = world.client("nurse2").post(reverse("join"), {"code": code})
    assert b"Staff accounts cannot join" in response.content


def test_admission_keeps_no_name_and_only_a_keyed_inpatient_hash(world):
    bed = Bed.objects.create(unit=world.unit1, label="9")
    world.client("nurse1").post(reverse("admit", args=[bed.pk]), {"nickname": "", "inpatient_number": "ZY 2016-0042"})
    admission = Admission.objects.get(bed=bed)
    assert admission.label == "Baby at bed 9"
    assert admission.inpatient_digest and "0042" not in admission.inpatient_digest
    from cradle.unit.models import inpatient_digest

    assert admission.inpatient_digest == inpatient_digest("zy20160042")
    assert not any(f.name in {"name", "first_name", "last_name", "baby_name"} for f in Admission._meta.fields)


def test_discharge_ends_the_familys_access_and_sessions(world):
    fam = world.families["a"]
    relative = Client()
    sign_in_by_form(relative, "relative_a")
    world.client("nurse1").post(reverse("discharge", args=[fam.admission.pk]))
    assert relative.get(reverse("baby", args=[fam.admission.pk])).status_code == 302  # signed out
    # Signed in again, the family has its clips for the unit's grace period (tests/test_retention.py), no more.
    assert (
        "destroyed for good"
        in world.client("relative_a").get(reverse("baby", args=[fam.admission.pk])).content.decode()
    )
    fam.unit.grace_days = 0
    fam.unit.save()
    assert world.client("relative_a").get(reverse("baby", args=[fam.admission.pk])).status_code == 404
    assert fam.bed.current_admission is None


def test_one_address_cannot_hammer_the_join_page(world, settings):
    settings.CRADLE = dataclasses.replace(settings.CRADLE, join_failures_per_address=3)
    code, _ = issue_from_bed_page(world.client("nurse1"), world.families["a"].admission)
    c = Client()
    for _ in range(3):
        c.post(reverse("join"), {"code": invitations.new_code()}, REMOTE_ADDR="203.0.113.5")
    response = c.post(reverse("join"), {"code": code}, REMOTE_ADDR="203.0.113.5")
    assert b"Too many attempts" in response.content
    assert Client().post(reverse("join"), {"code": code}, REMOTE_ADDR="203.0.113.6").status_code == 302


def test_the_slip_is_in_the_familys_language_with_a_code_that_does_not_wrap_and_can_be_shared(world):
    fam = world.families["a"]
    nurse = world.client("nurse1")  # reads English
    response = nurse.post(reverse("invite", args=[fam.admission.pk]), {"role": "parent", "language": "zh-hans"})
    assert response["Location"].endswith("?lang=zh-hans")
    body = nurse.get(response["Location"]).content.decode()
    code = code_on(body)
    assert code and len(code) == 19
    slip = body[body.index('<article class="slip"') : body.index("</article>")]
    assert 'lang="zh-Hans"' in slip and "您的 Cradle 邀请" in slip and "Your invitation" not in slip
    assert "Sign out" in body  # the nurse's own page around the slip stays in English
    # Share and copy carry the address with the code in its fragment (never sent to a server), in Chinese.
    assert f"/join/?lang=zh-hans#{code}" in body and 'id="share-slip"' in body and "data-copy-text=" in body
    assert "邀请码只能使用一次" in body
    # The family's first page speaks their language, and goes on speaking it.
    family = Client()
    assert "加入宝宝的页面" in family.get(reverse("join") + "?lang=zh-hans").content.decode()
    assert "加入宝宝的页面" in family.get(reverse("join")).content.decode()
    # The same slip in English, on asking.
    english = nurse.get(response["Location"].replace("zh-hans", "en")).content.decode()
    assert "Your invitation to Cradle" in english and code_on(english) == code


def test_a_parent_invites_a_relative_with_a_slip_in_the_language_they_choose(world):
    fam = world.families["a"]
    parent = world.client("parent_a")
    response = parent.post(reverse("family_invite", args=[fam.admission.pk]), {"language": "en"})
    assert response["Location"].endswith("?lang=en")
    body = parent.get(response["Location"]).content.decode()
    assert code_on(body) and "For one relative" in body
