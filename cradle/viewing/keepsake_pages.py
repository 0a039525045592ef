"""The parents' keepsake pages: asking for one, watching it being made, and saving the finished file.

The request only reserves a place and queues the work (cradle.viewing.keepsake); the page that follows shows the
progress and says when the file is ready, and the download sends the finished file, checked and audited like any
other media of the baby.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from cradle import scope, tasks
from cradle.accounts.models import User
from cradle.audit.actions import Action
from cradle.audit.log import record
from cradle.media.store import StoreError
from cradle.request import SignedInRequest
from cradle.unit.models import Admission
from cradle.viewing import keepsake as making
from cradle.viewing.models import Clip, Keepsake

_NO_STORE = {"Cache-Control": "no-store, private", "X-Content-Type-Options": "nosniff"}


def notices(user: User, admission: Admission) -> list[Keepsake]:
    """The person's keepsakes of this baby that are being made or wait to be saved (shown on the baby's pages)."""
    if not user.is_authenticated:
        return []
    return list(
        Keepsake.objects.filter(
            user=user,
            clip__admission=admission,
            state__in=[Keepsake.State.MAKING, Keepsake.State.READY],
            requested_at__gte=timezone.now() - making.KEEP * 2,
        )
        .select_related("clip")
        .order_by("-requested_at")[:5]
    )


@login_required
@require_POST
def keepsake(request: SignedInRequest, clip_id: int) -> HttpResponse:
    """Asks for a keepsake of a clip (parents): a place of the day's few is reserved and the file made in the
    background; the person goes on to its page at once."""
    item = scope.get_parent_clip(request.user, clip_id)
    if why := scope.media_refusal(request.user, item.admission):
        record(request, Action.CLIP_KEEPSAKE, admission=item.admission, outcome="denied", clip=item.pk, reason=why)
        return HttpResponse("Not found", status=404, content_type="text/plain", headers=_NO_STORE)
    reservation = making.reserve(request.user, item, settings.CRADLE.keepsakes_per_day, request.device_session)
    if reservation is None:
        record(
            request,
            Action.CLIP_KEEPSAKE,
            admission=item.admission,
            outcome="denied",
            clip=item.pk,
            reason="daily limit",
        )
        messages.error(request, _("You have saved the most keepsakes allowed for today. Please try again tomorrow."))
        return redirect("clip", clip_id=item.pk)
    record(request, Action.CLIP_KEEPSAKE, admission=item.admission, clip=item.pk, keepsake=reservation.pk)
    tasks.enqueue(tasks.make_keepsakes)
    return redirect("keepsake_page", keepsake_id=reservation.pk)


def _state(k: Keepsake) -> dict:
    """What the keepsake page says about `k`: its state, progress, and the words for it."""
    if k.state == Keepsake.State.READY:
        until = formats.date_format(timezone.localtime(k.expires_at), "DATETIME_FORMAT")
        title = _("Your keepsake is ready")
        text = _("Save it on this phone or computer. It can be saved until %(until)s; after that it is removed.") % {
            "until": until
        }
    elif k.state == Keepsake.State.MAKING:
        title = _("Your keepsake is being made")
        text = _("This takes up to a minute. You can stay on this page or come back later; it will be here.")
    elif k.state == Keepsake.State.FAILED:
        title = _("The keepsake could not be made")
        text = _("It does not count towards today's keepsakes. Please try again from the clip.")
    else:
        title = _("This keepsake has been removed")
        text = _("Keepsakes can be saved for a day after they are made. Make it again from the clip if you wish.")
    return {
        "state": k.state,
        "progress": k.progress,
        "title": title,
        "text": text,
        "download": reverse("keepsake_download", args=[k.pk]) if k.state == Keepsake.State.READY else "",
    }


@login_required
def keepsake_page(request: SignedInRequest, keepsake_id: int) -> HttpResponse:
    k = scope.get_own_keepsake(request.user, keepsake_id)
    clip = _clip(k)
    return render(
        request,
        "viewing/keepsake.html",
        {"keepsake": k, "clip": clip, "admission": clip.admission, "now": _state(k)},
    )


def _clip(k: Keepsake) -> Clip:
    """The keepsake's clip: scope gives only keepsakes of clips still there, so a missing one is a 404 like them."""
    if k.clip is None:
        raise Http404
    return k.clip


@never_cache
@login_required
def keepsake_status(request: SignedInRequest, keepsake_id: int) -> HttpResponse:
    """The keepsake page's progress check (a few times while the file is made); not audited: it shows no media."""
    return JsonResponse(_state(scope.get_own_keepsake(request.user, keepsake_id)), headers=_NO_STORE)


@login_required
def keepsake_download(request: SignedInRequest, keepsake_id: int) -> HttpResponse:
    """The finished file, for the parent who asked for it, while the baby is still theirs to see; audited."""
    k = scope.get_own_keepsake(request.user, keepsake_id)
    clip = _clip(k)
    admission = clip.admission
    if why := scope.media_refusal(request.user, admission):
        record(request, Action.CLIP_KEEPSAKE_DOWNLOAD, admission=admission, outcome="denied", keepsake=k.pk, reason=why)
        return HttpResponse("Not found", status=404, content_type="text/plain", headers=_NO_STORE)
    if k.state != Keepsake.State.READY:
        return redirect("keepsake_page", keepsake_id=k.pk)
    try:
        data = making.read(k)
    except StoreError:
        record(
            request, Action.CLIP_KEEPSAKE_DOWNLOAD, admission=admission, outcome="denied", keepsake=k.pk, reason="gone"
        )
        Keepsake.objects.filter(pk=k.pk, state=Keepsake.State.READY).update(state=Keepsake.State.GONE)
        return redirect("keepsake_page", keepsake_id=k.pk)
    record(request, Action.CLIP_KEEPSAKE_DOWNLOAD, admission=admission, keepsake=k.pk, clip=k.clip_id, bytes=len(data))
    response = HttpResponse(data, content_type="video/mp4", headers=_NO_STORE)
    response["Content-Disposition"] = f'attachment; filename="cradle-{clip.created_at:%Y-%m-%d}.mp4"'
    return response
