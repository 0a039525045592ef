"""The nurse's form for an update, each viewer's copy of an update's photo, and the parents' choice for relatives."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cradle import scope
from cradle.audit.actions import Action
from cradle.audit.log import record
from cradle.media.store import StoreError
from cradle.updates import phi, photos, sealed, service
from cradle.updates.forms import UpdateForm

_NO_STORE = {"Cache-Control": "no-store, private", "X-Content-Type-Options": "nosniff"}


@login_required
def compose(request: HttpRequest, admission_id: int) -> HttpResponse:
    """Write an update; words that look identifying are shown back as a warning before anything is sent."""
    admission = scope.get_nursed_admission(request.user, admission_id)
    clips = [
        (c.pk, f"{timezone.localtime(c.created_at):%Y-%m-%d %H:%M} · {round(c.duration)} s")
        for c in admission.clips.all()[:20]
    ]
    form = UpdateForm(request.POST or None, request.FILES or None, clips=clips)
    findings: list[phi.Finding] = []
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        findings = phi.check(d["text"], admission)
        if findings and request.POST.get("send_anyway") != "yes":
            return render(request, "updates/compose.html", _context(admission, form, findings, warned=True))
        try:
            photo = _photo(admission, d, request)
        except photos.PhotoRefused as e:
            record(request, Action.UPDATE_PHOTO_REFUSED, admission=admission, outcome="failed", reason=str(e))
            form.add_error("photo", str(e))
            return render(request, "updates/compose.html", _context(admission, form, findings))
        clip = admission.clips.filter(pk=d["clip"]).first() if d["clip"] else None
        service.send(
            request,
            admission,
            d["text"].strip(),
            photo=photo,
            photo_source=d["photo"] if photo else "",
            clip=clip,
            warned=sorted({f.kind for f in findings}),
        )
        messages.success(request, _("The update was sent to the family."))
        return redirect("bed", bed_id=admission.bed_id)
    return render(request, "updates/compose.html", _context(admission, form, findings))


def _photo(admission, data, request) -> bytes | None:
    if data["photo"] == "live":
        return photos.from_live_picture(admission)
    if data["photo"] == "upload":
        return photos.redact_upload(data["upload"].read())
    return None


def _context(admission, form, findings, warned: bool = False) -> dict:
    return {
        "admission": admission,
        "form": form,
        "findings": [(phi.KINDS[f.kind], f.text) for f in findings],
        "warned": warned,
    }


@login_required
def photo(request: HttpRequest, update_id: int) -> HttpResponse:
    """The update's photo for this session: marked invisibly and with the viewer code, audited, never cached."""
    device = getattr(request, "device_session", None)
    update = scope.get_watchable_update(request.user, update_id)
    if device is None or not update.has_photo:
        raise Http404
    if why := scope.media_refusal(request.user, update.admission):
        record(request, Action.UPDATE_PHOTO, admission=update.admission, outcome="denied", update=update.pk, reason=why)
        raise Http404
    day = f"{timezone.localtime(update.created_at):%Y-%m-%d}"
    try:
        data, variant = photos.for_viewer(sealed.photo(update), f"update-{update.pk}", device, day)
    except StoreError:
        raise Http404 from None
    saved = request.GET.get("save") == "1"
    record(
        request, Action.UPDATE_PHOTO, admission=update.admission, update=update.pk, variant=int(variant), saved=saved
    )
    response = HttpResponse(data, content_type="image/jpeg", headers=_NO_STORE)
    if saved:
        response["Content-Disposition"] = f'attachment; filename="cradle-update-{day}.jpg"'
    return response


@login_required
def relatives(request: HttpRequest, admission_id: int) -> HttpResponse:
    """Parents choose which relatives see the care team's updates."""
    admission = scope.get_parent_admission(request.user, admission_id)
    return render(
        request, "updates/relatives.html", {"admission": admission, "relatives": service.relatives(admission)}
    )


@login_required
@require_POST
def relative_view(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = scope.get_family_member_for_parent(request.user, membership_id)
    service.set_relative_view(request, membership, request.POST.get("sees_updates") == "yes")
    messages.success(request, _("Saved."))
    return redirect("update_relatives", admission_id=membership.admission_id)
