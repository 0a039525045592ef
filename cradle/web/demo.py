"""The embedded demo: a seeded unit with simulated cameras and demo accounts."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value, yield_hotp_counters_from_time
from django.db import transaction

from cradle import lifecycle
from cradle.accounts.models import User
from cradle.integrations.adt.models import BedLocation
from cradle.unit.models import Bed, Camera, FamilyMembership, StaffMembership, Unit

Role = StaffMembership.Role

STAFF = [
    ("nurse", "Nurse Amina", "nicu", Role.NURSE),
    ("nurse2", "Nurse Wei", "scn", Role.NURSE),
    ("privacy", "Privacy Officer Jo", "nicu", Role.PRIVACY_OFFICER),
    ("admin", "Administrator Sam", "nicu", Role.ADMINISTRATOR),
]


@dataclass
class DemoAccount:
    username: str
    password: str
    role: str
    totp_secret: str | None


def totp_now(secret: str) -> str:
    """The code an authenticator app would show now for this secret."""
    counter = list(yield_hotp_counters_from_time())
    return format_hotp_value(hotp_value(secret, counter[len(counter) // 2]))


@transaction.atomic
def seed() -> list[DemoAccount]:
    """Creates the demo unit once; gives every demo account a fresh password and a fresh TOTP secret."""
    names = {"nicu": ("Neonatal ICU", "新生儿重症监护室"), "scn": ("Special Care Nursery", "新生儿特护病房")}
    units = {
        code: Unit.objects.get_or_create(code=code, defaults={"name": en, "name_zh_hans": zh})[0]
        for code, (en, zh) in names.items()
    }
    for code, count in (("nicu", 8), ("scn", 4)):
        for n in range(1, count + 1):
            bed, _ = Bed.objects.get_or_create(unit=units[code], label=str(n))
            lang = "zh" if n % 2 == 0 else "en"
            Camera.objects.get_or_create(
                bed=bed,
                defaults={"source_url": f"sim://{code}-bed-{n}?lang={lang}", "state": Camera.State.LIVE},
            )
            # The admission feed's place for the bed (PV1-3 NICU^^1 ...), for trying out `cradle adt`.
            BedLocation.objects.get_or_create(bed=bed, defaults={"point_of_care": code.upper(), "hl7_bed": str(n)})
    # Until the worker reports a picture, no camera is shown as live.
    Camera.objects.update(state=Camera.State.OFFLINE)
    accounts = []
    for username, name, unit_code, role in STAFF:
        user, _ = User.objects.get_or_create(username=username, defaults={"display_name": name})
        StaffMembership.objects.get_or_create(user=user, unit=units[unit_code], role=role)
        password = secrets.token_urlsafe(9)
        user.set_password(password)
        user.save()
        secret = base64.b32encode(secrets.token_bytes(20)).decode()
        Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).delete()
        TOTP.activate(user, secret)
        accounts.append(DemoAccount(username, password, role, secret))

    # One baby already admitted, with a parent account, so the family side can be seen at once.
    nurse = User.objects.get(username="nurse")
    bed3 = Bed.objects.get(unit=units["nicu"], label="3")
    admission = bed3.current_admission or lifecycle.admit(bed3, by=nurse)
    parent, _ = User.objects.get_or_create(username="parent", defaults={"display_name": "Mum"})
    FamilyMembership.objects.get_or_create(
        user=parent, admission=admission, revoked_at=None, defaults={"role": FamilyMembership.Role.PARENT}
    )
    password = secrets.token_urlsafe(9)
    parent.set_password(password)
    parent.save()
    # The unit shows the baby only to family members with a second sign-in step: the demo parent has an app too.
    secret = base64.b32encode(secrets.token_bytes(20)).decode()
    Authenticator.objects.filter(user=parent, type=Authenticator.Type.TOTP).delete()
    TOTP.activate(parent, secret)
    accounts.append(DemoAccount("parent", password, "parent", secret))
    return accounts
