"""Notices: queued on the request path (a row and a queued task, nothing more), sent by the background queue.

Each person's choices decide what is sent, when (quiet hours, one daily message) and where (e-mail, Web Push). A
failure to send is retried a few times and then given up; it never reaches the request that caused the notice.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import DatabaseError
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cradle.notifications import webpush
from cradle.notifications.models import Kind, Notice, Preference, PushSubscription
from cradle.web.zone import zone

log = logging.getLogger(__name__)

RETRIES = 5
RETRY_AFTER = timedelta(minutes=2)


def tell_family(admission, kind: str) -> int:
    """Queues a notice of `kind` for every family member of the admission; gives how many. Never raises."""
    from cradle import tasks
    from cradle.unit.models import FamilyMembership

    try:
        members = FamilyMembership.objects.filter(admission=admission, revoked_at__isnull=True)
        if kind == Kind.UPDATE:
            members = members.exclude(role=FamilyMembership.Role.RELATIVE, update_view__sees_updates=False)
        now = timezone.now()
        notices = [
            Notice(user_id=uid, kind=kind, created_at=now, due_at=now)
            for uid in members.values_list("user_id", flat=True)
        ]
        Notice.objects.bulk_create(notices)
    except DatabaseError:
        log.exception("could not queue %s notices", kind)
        return 0
    if notices:
        tasks.enqueue(tasks.send_notifications)
    return len(notices)


def preference(user) -> Preference:
    return Preference.objects.filter(user=user).first() or Preference(user=user)


def remember_language(user, language: str) -> None:
    """Notes the language the person reads Cradle in, for their notices (one read; a write only when it changed)."""
    known = dict(settings.LANGUAGES)
    if not user.is_authenticated or language not in known:
        return
    current = Preference.objects.filter(user=user).values_list("language", flat=True).first()
    if current is None:
        Preference.objects.get_or_create(user=user, defaults={"language": language})
    elif current != language:
        Preference.objects.filter(user=user).update(language=language)


def _local(pref: Preference, now: datetime) -> datetime:
    return timezone.localtime(now, zone(pref.time_zone) or timezone.get_default_timezone())


def _quiet_until(pref: Preference, now: datetime) -> datetime | None:
    """When the person's quiet hours end, if it is quiet for them now."""
    if pref.quiet_from is None or pref.quiet_until is None or pref.quiet_from == pref.quiet_until:
        return None
    local = _local(pref, now)
    t = local.time()
    start, end = pref.quiet_from, pref.quiet_until
    quiet = start <= t < end if start < end else (t >= start or t < end)
    if not quiet:
        return None
    until = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    return until if until > local else until + timedelta(days=1)


def _digest_due(pref: Preference, since: datetime) -> datetime:
    """The first daily-message time after `since`, in the person's zone."""
    local = _local(pref, since)
    at = local.replace(hour=pref.digest_at.hour, minute=pref.digest_at.minute, second=0, microsecond=0)
    return at if at > local else at + timedelta(days=1)


MESSAGES = {
    Kind.CLIP: lambda: _("There is a new clip of your baby in Cradle."),
    Kind.UPDATE: lambda: _("The care team sent you an update in Cradle."),
    Kind.PAUSED: lambda: _("Your baby's camera has been paused for longer than usual. The nurses will resume it."),
    Kind.STAY: lambda: _("There is news about your baby's stay in Cradle."),
}


def _words(kinds: Counter) -> str:
    if len(kinds) == 1 and sum(kinds.values()) == 1:
        return MESSAGES[next(iter(kinds))]()
    parts = []
    if kinds[Kind.CLIP]:
        parts.append(ngettext("%(n)d new clip", "%(n)d new clips", kinds[Kind.CLIP]) % {"n": kinds[Kind.CLIP]})
    if kinds[Kind.UPDATE]:
        n = kinds[Kind.UPDATE]
        parts.append(ngettext("%(n)d update from the care team", "%(n)d updates from the care team", n) % {"n": n})
    if kinds[Kind.PAUSED]:
        parts.append(_("a camera pause"))
    if kinds[Kind.STAY]:
        parts.append(_("news about your baby's stay"))
    return _("There is something new in Cradle: %(list)s.") % {"list": ", ".join(parts)}


def _deliver(pref: Preference, words: str) -> None:
    """Sends one message by each way the person chose; raises OSError or PushError when every way failed."""
    link = settings.SITE_URL + "/"
    user = pref.user
    errors: list[Exception] = []
    delivered = False
    if pref.email and user.email:
        # One message per person, so that no one sees another family member's address.
        try:
            EmailMessage(_("Cradle"), f"{words}\n\n{link}", None, [user.email]).send()
            delivered = True
        except OSError as e:
            errors.append(e)
    key = webpush.load_key(settings.VAPID_KEY_FILE) if pref.push else None
    if key is not None:
        payload = f'{{"title": "Cradle", "body": {_json(words)}, "url": {_json(link)}}}'.encode()
        contact = f"mailto:{settings.DEFAULT_FROM_EMAIL}"
        for sub in PushSubscription.objects.filter(user=user):
            try:
                webpush.send(key, sub.endpoint, sub.p256dh, sub.auth, payload, contact)
                delivered = True
            except webpush.PushError as e:
                if e.gone:
                    sub.delete()
                else:
                    errors.append(e)
    if errors and not delivered:
        raise errors[0]


def _json(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)


def send_due(now: datetime | None = None) -> int:
    """Sends every notice that is due, grouped per person; gives how many people were sent a message."""
    now = now or timezone.now()
    sent = 0
    users = Notice.objects.filter(sent_at__isnull=True, due_at__lte=now).values_list("user_id", flat=True).distinct()
    for user_id in list(users):
        pending = list(
            Notice.objects.filter(user_id=user_id, sent_at__isnull=True, due_at__lte=now).select_related("user")
        )
        if not pending:
            continue
        pref = preference(pending[0].user)
        pref.user = pending[0].user
        unwanted = [n.pk for n in pending if not pref.wants(n.kind)]
        Notice.objects.filter(pk__in=unwanted).update(sent_at=now, outcome="off")
        wanted = [n for n in pending if n.pk not in unwanted]
        if not wanted:
            continue
        later = _quiet_until(pref, now)
        if later is None and pref.digest:
            oldest = min(n.created_at for n in wanted)
            due = _digest_due(pref, oldest)
            later = due if due > now else None
        if later is not None:
            Notice.objects.filter(pk__in=[n.pk for n in wanted]).update(due_at=later)
            continue
        ids = [n.pk for n in wanted]
        try:
            with translation.override(pref.language or settings.LANGUAGE_CODE):
                _deliver(pref, _words(Counter(n.kind for n in wanted)))
        except (OSError, webpush.PushError) as e:
            log.warning("a notification could not be sent: %s", e)
            tries = max(n.attempts for n in wanted) + 1
            if tries >= RETRIES:
                Notice.objects.filter(pk__in=ids).update(sent_at=now, outcome="failed", attempts=tries)
            else:
                Notice.objects.filter(pk__in=ids).update(attempts=tries, due_at=now + RETRY_AFTER * tries)
            continue
        Notice.objects.filter(pk__in=ids).update(sent_at=now, outcome="sent")
        sent += 1
    return sent


def watch_pauses(now: datetime | None = None) -> int:
    """Tells the family of each camera paused for longer than usual, once per pause; gives how many were told."""
    from cradle.notifications.models import PauseWatch
    from cradle.unit.models import Camera

    now = now or timezone.now()
    paused = {c.pk: c for c in Camera.objects.filter(paused_until__gt=now).select_related("bed")}
    PauseWatch.objects.exclude(camera_id__in=paused).delete()
    long_ago = now - timedelta(minutes=settings.CRADLE.long_pause_minutes)
    told = 0
    for camera_id, camera in paused.items():
        watch, _created = PauseWatch.objects.get_or_create(camera_id=camera_id, defaults={"since": now})
        if watch.told or watch.since > long_ago:
            continue
        admission = camera.bed.current_admission if camera.bed is not None else None
        if admission is not None:
            tell_family(admission, Kind.PAUSED)
            told += 1
        PauseWatch.objects.filter(pk=watch.pk).update(told=True)
    return told
