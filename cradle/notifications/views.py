"""Each person's choice of what they are told, when and where; and their browsers' push subscriptions."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cradle.audit.actions import Action
from cradle.audit.log import record
from cradle.notifications import webpush
from cradle.notifications.forms import PreferenceForm
from cradle.notifications.models import PushSubscription
from cradle.notifications.outbox import preference
from cradle.request import SignedInRequest
from cradle.web.zone import COOKIE, zone


@login_required
@require_POST
def choices(request: HttpRequest) -> HttpResponse:
    form = PreferenceForm(request.POST, instance=preference(request.user))
    if not form.is_valid():
        messages.error(request, _("Please check the notification choices."))
        return redirect("profile")
    pref = form.save(commit=False)
    if zone(request.COOKIES.get(COOKIE, "")) is not None:
        pref.time_zone = request.COOKIES[COOKIE]
    pref.language = getattr(request, "LANGUAGE_CODE", "") or pref.language
    pref.save()
    record(request, Action.NOTIFICATION_SETTINGS, changed=sorted(form.changed_data))
    messages.success(request, _("Your notification choices have been saved."))
    return redirect("profile")


@login_required
@require_POST
def subscribe(request: SignedInRequest) -> HttpResponse:
    """Keeps (or, with "remove", forgets) this browser's push subscription, sent by cradle/static/cradle/push.js."""
    try:
        body = json.loads(request.body or b"{}")
        endpoint = str(body["endpoint"])[:800]
        keys = body.get("keys") or {}
        p256dh, auth = str(keys.get("p256dh", ""))[:120], str(keys.get("auth", ""))[:40]
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"error": "not a push subscription"}, status=400)
    if body.get("remove"):
        PushSubscription.objects.filter(user=request.user, endpoint=endpoint).delete()
        return JsonResponse({"ok": True})
    if not webpush.allowed_endpoint(endpoint):
        return JsonResponse({"error": "the push service must be an HTTPS address"}, status=400)
    try:
        if len(webpush.unb64url(p256dh)) != 65 or len(webpush.unb64url(auth)) != 16:
            raise ValueError
    except ValueError:
        return JsonResponse({"error": "the subscription's keys are malformed"}, status=400)
    # An endpoint belongs to one browser; whoever signs in on it last gets its notices.
    PushSubscription.objects.update_or_create(
        endpoint=endpoint, defaults={"user": request.user, "p256dh": p256dh, "auth": auth}
    )
    return JsonResponse({"ok": True})
