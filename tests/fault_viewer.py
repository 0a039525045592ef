"""Run in an installation's environment (`python -m tests.fault_viewer COUNT`): a family viewer of the demo ward's
first baby, signed in, and COUNT segments of its camera sealed and indexed as the worker leaves them. Prints JSON:
the session cookie, the device session's public id and the admission. Used by fault tests that run a real
`cradle serve`; the password and second-step steps of signing in are not what they test."""

from __future__ import annotations

import json
import os
import sys


def main(count: int) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cradle.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils import timezone

    from cradle.accounts.models import DeviceSession, User
    from cradle.unit.models import Admission, FamilyMembership
    from cradle.viewing.models import LiveSegment
    from cradle.viewing.storage import segment_store

    admission = Admission.objects.filter(discharged_at__isnull=True, bed__camera__isnull=False).order_by("pk").first()
    admission.unit.family_second_step = False
    admission.unit.save(update_fields=["family_second_step"])
    camera = admission.bed.camera
    store = segment_store()
    store.admit(admission.media_id)
    first = (LiveSegment.objects.filter(camera=camera).order_by("-index").values_list("index", flat=True).first() or 0)
    for index in range(first + 1, first + 1 + count):
        for variant in ("A", "B", "ref"):
            store.put(admission.media_id, str(camera.pk), index, variant, f"{variant}:{camera.pk}:{index}".encode())
        LiveSegment.objects.create(
            camera=camera, admission=admission, index=index, started_at=timezone.now(), duration=1.0
        )
    user = User(username="fault-viewer", display_name="Fault viewer")
    user.set_unusable_password()
    user.save()
    FamilyMembership.objects.create(user=user, admission=admission, role=FamilyMembership.Role.RELATIVE)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    device = DeviceSession.objects.create(
        user=user, session_key=session.session_key, ip="127.0.0.1", idle_timeout_s=1800, lifetime_s=43200
    )
    return {"cookie": session.session_key, "session": device.public_id, "admission": admission.pk}


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]))))
