"""Invitations as both parents and nurses issue them: the code kept in the issuing session, the slip in the family's
language, and revoking an open invitation."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cradle import scope
from cradle.audit.actions import Action
from cradle.audit.log import record
from cradle.request import SignedInRequest
from cradle.unit import invitations
from cradle.unit.models import Admission, Invitation

_SLIPS = "cradle_slips"


def issue_invitation(
    request: SignedInRequest, admission: Admission, role: str, back: str, back_id: int, language: str = ""
) -> HttpResponse:
    """Issues an invitation to the admission in this role and opens its slip; `back` is the page to return to if it
    cannot be issued. The code is kept only in this session, so that the slip can be shown again."""
    try:
        invitation, code = invitations.issue(admission, role, request.user)
    except invitations.InvitationError as e:
        messages.error(request, str(e))
        return redirect(back, back_id)
    record(request, Action.INVITATION_ISSUED, admission=admission, invitation=invitation.pk, role=role)
    # The code is never stored; this session keeps it only so that the slip can be printed again.
    slips = request.session.get(_SLIPS, {})
    slips[str(invitation.pk)] = code
    request.session[_SLIPS] = slips
    slip = reverse("invitation_slip", args=[invitation.pk])
    return redirect(f"{slip}?lang={slip_language(language or translation.get_language())}")


def slip_language(code: str | None) -> str:
    """One of Cradle's languages: the one asked for if Cradle speaks it, else the reader's."""
    known = dict(settings.LANGUAGES)
    return code if code in known else (translation.get_language() if translation.get_language() in known else "en")


@login_required
def invitation_slip(request: SignedInRequest, invitation_id: int) -> HttpResponse:
    """The slip to print, share or copy, in the family's language (`?lang=`); the code is shown only to the session
    that issued it, and never in a form that wraps inside a group."""
    invitation = scope.get_invitation(request.user, invitation_id)
    code = request.session.get(_SLIPS, {}).get(str(invitation.pk)) if invitation.is_open else None
    language = slip_language(request.GET.get("lang"))
    # The family's first page speaks their language too.
    join_url = request.build_absolute_uri(reverse("join")) + f"?lang={language}"
    qr = share = None
    if code:
        import segno

        # The code travels in the fragment, which browsers never send to a server or write to its logs.
        qr = segno.make(f"{join_url}#{code}", error="m").svg_inline(scale=5, dark="#000", light="#fff")
        with translation.override(language):
            until = formats.date_format(timezone.localtime(invitation.expires_at), "DATETIME_FORMAT")
            share = {
                "title": _("Your invitation to Cradle"),
                "text": _(
                    "You are invited to watch a baby in the neonatal unit with Cradle. Open the link, or open "
                    "%(address)s and type the code %(code)s. It works once, until %(until)s. Please keep it private."
                )
                % {"address": join_url, "code": code, "until": until},
                "url": f"{join_url}#{code}",
            }
    back = "bed" if scope.is_staff(request.user, scope.Role.NURSE) else "family"
    back_id = invitation.admission.bed_id if back == "bed" else invitation.admission_id
    return render(
        request,
        "unit/slip.html",
        {
            "invitation": invitation,
            "code": code,
            "groups": code.split("-") if code else [],
            "qr": qr,
            "join_url": join_url,
            "share": share,
            "slip_language": language,
            "back": back,
            "back_id": back_id,
        },
    )


@login_required
@require_POST
def revoke_invitation(request: SignedInRequest, invitation_id: int) -> HttpResponse:
    invitation = scope.get_invitation(request.user, invitation_id)
    Invitation.objects.filter(pk=invitation.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    record(request, Action.INVITATION_REVOKED, admission=invitation.admission, invitation=invitation.pk)
    messages.success(request, _("The invitation has been revoked."))
    if scope.is_staff(request.user, scope.Role.NURSE):
        return redirect("bed", bed_id=invitation.admission.bed_id)
    return redirect("family", admission_id=invitation.admission_id)
