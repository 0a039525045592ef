"""Minimal personal data: contact details sealed, masked for staff, revealed only on an audited request, and never
in a notification."""

from __future__ import annotations

import re

from django.conf import settings
from django.core import mail
from django.db import connection
from django.urls import reverse

from cradle.accounts.models import User
from cradle.audit.models import Event
from cradle.notifications import outbox
from cradle.unit.models import Admission
from cradle.viewing import clips
from tests.test_viewing import stored

EMAIL = "mum.wang@example.com"
PHONE = "+86 138 0013 4321"


def give_contact(user: User) -> None:
    user.email, user.phone = EMAIL, PHONE
    user.save()


def test_contact_details_are_sealed_in_the_database(world):
    parent = world.families["a"].parent
    give_contact(parent)
    with connection.cursor() as cursor:
        cursor.execute("SELECT email, phone, email_digest FROM accounts_user WHERE id = %s", [parent.pk])
        email, phone, digest = cursor.fetchone()
    assert EMAIL not in email and "mum" not in email and "4321" not in phone
    assert email.startswith("sealed1:") and phone.startswith("sealed1:") and len(digest) == 64
    assert (User.objects.get(pk=parent.pk).email, User.objects.get(pk=parent.pk).phone) == (EMAIL, PHONE)
    # A password reset still finds the account by its address, in any case.
    assert list(User.objects.filter(email=EMAIL.upper())) == [parent]
    assert list(User.objects.filter(email__iexact=EMAIL)) == [parent]
    assert User.objects.filter(email="").count() == User.objects.count() - 1


def test_staff_see_contacts_masked_and_revealing_them_is_audited(world):
    fam = world.families["a"]
    give_contact(fam.parent)
    nurse = world.client("nurse1")
    page = nurse.get(reverse("bed", args=[fam.bed.pk])).content.decode()
    assert EMAIL not in page and "4321" in page and "m•••@e•••.com" in page
    assert "138 0013" not in page
    response = nurse.post(reverse("reveal_contact", args=[fam.parent_membership.pk]))
    body = response.content.decode()
    assert EMAIL in body and PHONE in body and response["Cache-Control"].startswith("no-store")
    event = Event.objects.get(action="family.contact_revealed")
    assert (event.actor_id, event.admission_id, event.detail["member"]) == (
        world.users["nurse1"].pk,
        fam.admission.pk,
        fam.parent.pk,
    )
    # Another unit's nurse cannot, and a GET reveals nothing.
    assert world.client("nurse2").post(reverse("reveal_contact", args=[fam.parent_membership.pk])).status_code == 404
    assert nurse.get(reverse("reveal_contact", args=[fam.parent_membership.pk])).status_code == 405


def test_no_page_or_api_lists_contact_details(world):
    fam = world.families["a"]
    give_contact(fam.parent)
    give_contact(fam.relative)
    pages = {
        "nurse1": [
            reverse("board", args=[fam.unit.pk]),
            reverse("bed", args=[fam.bed.pk]),
            reverse("api:admissions"),
            reverse("api:admission", args=[fam.admission.pk]),
        ],
        "parent_a": [
            reverse("family", args=[fam.admission.pk]),
            reverse("who_watched", args=[fam.admission.pk]),
            reverse("api:family", args=[fam.admission.pk]),
            reverse("api:watchers", args=[fam.admission.pk]),
        ],
        "privacy": [reverse("audit_search"), reverse("audit_export"), reverse("alerts")],
        "admin": [reverse("unit_settings", args=[fam.unit.pk])],
    }
    for actor, urls in pages.items():
        client = world.client(actor)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            body = b"".join(response.streaming_content) if response.streaming else response.content
            text = body.decode()
            # The number's hidden middle group, in any spacing (a bare "0013" also turns up inside timestamps).
            assert EMAIL not in text and not re.search(r"138\D{0,3}0013|0013\D{0,3}4321", text), url


def test_a_clip_notification_carries_nothing_identifying(world):
    fam = world.families["a"]
    Admission.objects.filter(pk=fam.admission.pk).update(nickname="Little Dragon")
    fam.admission.refresh_from_db()
    give_contact(fam.parent)
    fam.relative.email = "grandpa@example.com"
    fam.relative.save()
    stored(fam)
    mail.outbox.clear()
    assert clips.record(fam.admission, 15, by=world.users["nurse1"]) is not None
    # Sent by the background queue, not while the nurse waits.
    assert mail.outbox == []
    outbox.send_due()
    assert sorted(m.to[0] for m in mail.outbox) == ["grandpa@example.com", EMAIL]
    for message in mail.outbox:
        assert len(message.to) == 1 and not message.cc and not message.bcc
        assert message.body == f"There is a new clip of your baby in Cradle.\n\n{settings.SITE_URL}/"
        text = message.subject + message.body
        for secret in ("Little Dragon", fam.bed.label, fam.unit.name, fam.unit.code, str(fam.admission.pk)):
            assert secret not in text


def test_parents_give_their_contact_details_on_their_own_page(world):
    fam = world.families["a"]
    parent = world.client("parent_a")
    response = parent.post(reverse("profile"), {"display_name": "Mum", "email": EMAIL, "phone": "call me maybe"})
    assert response.status_code == 200 and "Enter a phone number" in response.content.decode()
    response = parent.post(reverse("profile"), {"display_name": "Mum", "email": EMAIL, "phone": PHONE})
    assert response.status_code == 302
    fam.parent.refresh_from_db()
    assert (fam.parent.email, fam.parent.phone) == (EMAIL, PHONE)
    changed = Event.objects.filter(action="account.contact_changed", actor_id=fam.parent.pk)
    assert sorted(e.detail["field"] for e in changed) == ["email", "phone"]
    assert EMAIL not in str(list(changed.values_list("detail", flat=True)))
