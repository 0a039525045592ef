"""The nurse's form for an update, each viewer's copy of an update's photo, and the parents' choice for relatives."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cradle import scope
from cradle.audit.actions import Action
from cradle.audit.log import record
from cradle.media.store import StoreError
from cradle.request import SignedInRequest
from cradle.updates import phi, photos, sealed, service
from cradle.updates.forms import UpdateForm

_NO_STORE = {"Cache-Control": "no-store, private", "X-Content-Type-Options": "nosniff"}


@login_required
def compose(request: SignedInRequest, admission_id: int) -> HttpResponse:
    """Write an update. A photo, once taken or uploaded (and redacted), is shown to the nurse before anything is sent;
    words that look identifying are shown back as a warning. Nothing reaches the family until the nurse sends."""
    admission = scope.get_nursed_admission(request.user, admission_id)
    clips = [
        (c.pk, f"{timezone.localtime(c.created_at):%Y-%m-%d %H:%M} · {round(c.duration)} s")
        for c in admission.clips.all()[:20]
    ]
    draft = _draft(request, admission)
    form = UpdateForm(request.POST or None, request.FILES or None, clips=clips, taken=draft is not None)
    if request.method != "POST" or not form.is_valid():
        return render(request, "updates/compose.html", _context(admission, form, [], draft))
    d = form.cleaned_data
    findings = phi.check(d["text"], admission)
    if d["photo"] in ("live", "upload"):
        try:
            photo = _photo(admission, d)
        except photos.PhotoRefused as e:
            record(request, Action.UPDATE_PHOTO_REFUSED, admission=admission, outcome="failed", reason=str(e))
            form.add_error("photo", str(e))
            return render(request, "updates/compose.html", _context(admission, form, findings, draft))
        if draft is not None:
            service.discard(draft)
        draft = service.draft(request, admission, photo, d["photo"])
        # The nurse sees the photo first: the same form again, now offering the photo just taken.
        data = request.POST.copy()
        data["photo"], data["draft"] = "taken", str(draft.pk)
        form = UpdateForm(data, clips=clips, taken=True)
        form.is_valid()
        return render(request, "updates/compose.html", _context(admission, form, findings, draft))
    if findings and request.POST.get("send_anyway") != "yes":
        return render(request, "updates/compose.html", _context(admission, form, findings, draft))
    if d["photo"] != "taken" and draft is not None:
        service.discard(draft)
        draft = None
    clip = admission.clips.filter(pk=d["clip"]).first() if d["clip"] else None
    service.send(
        request, admission, d["text"].strip(), draft=draft, clip=clip, warned=sorted({f.kind for f in findings})
    )
    messages.success(request, _("The update was sent to the family."))
    return redirect("bed", bed_id=admission.bed_id)


def _draft(request: SignedInRequest, admission):
    """The nurse's own unsent update named by the form, or None (a draft of another nurse or baby is a 404)."""
    raw = request.POST.get("draft", "")
    if not raw.isdigit():
        return None
    draft = scope.get_own_update_draft(request.user, int(raw))
    if draft.admission_id != admission.pk:
        raise Http404
    return draft


def _photo(admission, data) -> bytes:
    if data["photo"] == "live":
        return photos.from_live_picture(admission)
    return photos.redact_upload(data["upload"].read())


def _context(admission, form, findings, draft=None) -> dict:
    return {
        "admission": admission,
        "form": form,
        "findings": [(phi.KINDS[f.kind], f.text) for f in findings],
        "warned": bool(findings),
        "draft": draft,
    }


@login_required
def draft_photo(request: SignedInRequest, update_id: int) -> HttpResponse:
    """The photo of a draft, for its nurse to check before sending: marked for the nurse's session like any copy."""
    device = getattr(request, "device_session", None)
    update = scope.get_own_update_draft(request.user, update_id)
    if device is None or not update.has_photo:
        raise Http404
    day = f"{timezone.localtime(update.created_at):%Y-%m-%d}"
    try:
        data, variant = photos.for_viewer(sealed.photo(update), f"update-{update.pk}", device, day)
    except StoreError:
        raise Http404 from None
    record(request, Action.UPDATE_PHOTO, admission=update.admission, update=update.pk, variant=int(variant), draft=True)
    return HttpResponse(data, content_type="image/jpeg", headers=_NO_STORE)


@login_required
def photo(request: SignedInRequest, update_id: int) -> HttpResponse:
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
def relatives(request: SignedInRequest, admission_id: int) -> HttpResponse:
    """Parents choose which relatives see the care team's updates."""
    admission = scope.get_parent_admission(request.user, admission_id)
    return render(
        request, "updates/relatives.html", {"admission": admission, "relatives": service.relatives(admission)}
    )


@login_required
@require_POST
def relative_view(request: SignedInRequest, membership_id: int) -> HttpResponse:
    membership = scope.get_family_member_for_parent(request.user, membership_id)
    service.set_relative_view(request, membership, request.POST.get("sees_updates") == "yes")
    messages.success(request, _("Saved."))
    return redirect("update_relatives", admission_id=membership.admission_id)
