"""What a family member is told about the picture: one state, in their language, with what happens next.

Every state a parent can meet has words here: live, paused by a nurse (why, until when), the picture being checked
(the fail-closed privacy screen), camera unavailable, live stopped by the parents, discharged (clips until a date),
access ended, signed out. The baby's page draws the state it opens with, and its player asks `status.json` every few
seconds for the current one (cradle.viewing.views.live_status), so that it never shows "live" over a dead picture.

Whether the picture is live is read from the segments themselves, not from the camera's last reported state: a
worker that died leaves its cameras marked live, but writes no new segment.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from cradle.accounts import signed_out
from cradle.accounts.models import DeviceSession
from cradle.unit.models import Admission, Camera
from cradle.viewing.models import LiveSegment

# The newest segment must be this recent for the picture to count as live (segments come every second).
FRESH_SECONDS = 6
# A segment with at least this share of privacy-screen frames is a screen, not the picture.
SCREENED_SHARE = 0.5


@dataclass(frozen=True)
class PictureState:
    code: str  # live, paused, checking, unavailable, no_camera, stopped, discharged, ended, signed_out,
    #            signed_out_elsewhere, second_step
    title: str
    text: str
    # A button onwards, when there is something to do (sign in, open the clips, add a second step).
    action: str = ""
    href: str = ""
    # The player keeps running underneath: the picture comes back by itself.
    plays: bool = False
    # Nothing comes back without the person doing something: the player stops asking.
    final: bool = False

    def as_json(self) -> dict:
        return asdict(self)


def _until(moment: datetime) -> str:
    """A time today as "14:20", another day with its date, in the viewer's zone and language."""
    local = timezone.localtime(moment)
    if local.date() == timezone.localdate():
        return formats.date_format(local, "H:i")
    return formats.date_format(local, "DATE_FORMAT") + " " + formats.date_format(local, "H:i")


def _paused(camera: Camera, paused_until: datetime) -> PictureState:
    reasons: dict[str, str] = {
        Camera.PauseReason.CARE: _("A nurse has paused the camera while your baby is cared for."),
        Camera.PauseReason.FAMILY: _("A nurse has paused the camera, as the family asked."),
        Camera.PauseReason.STAFF: _("A nurse has paused the camera for the staff's privacy."),
    }
    why = reasons.get(camera.pause_reason, _("A nurse has paused the camera."))
    until = _("The picture comes back by itself at %(until)s, or sooner if the nurse turns it on again.") % {
        "until": _until(paused_until)
    }
    return PictureState("paused", _("Paused by the nurse"), f"{why} {until}", plays=True)


def of_admission(admission: Admission, camera: Camera | None = None) -> PictureState:
    """The state of an admission's picture for its family, now."""
    if admission.shredded_at is not None:
        return ended()
    if admission.discharged_at is not None:
        return discharged(admission)
    if admission.live_withdrawn_at is not None:
        return PictureState(
            "stopped",
            _("Live viewing has stopped"),
            _("Live viewing was stopped at the parents' request, and the camera is off. The clips already kept stay."),
            final=True,
        )
    return of_camera(admission.pk, camera if camera is not None else getattr(admission.bed, "camera", None))


def of_camera(admission_id: int, camera: Camera | None) -> PictureState:
    """The state of the picture of an admission that is in the unit with live viewing allowed: what its camera and
    newest segment say (the player's state checks that the fast path answers start here)."""
    if camera is None:
        return PictureState(
            "no_camera",
            _("No camera at this bed"),
            _("There is no camera at your baby's bed. The nurses can keep short clips for you once there is one."),
            final=True,
        )
    if camera.is_paused and camera.paused_until is not None:
        return _paused(camera, camera.paused_until)
    newest = (
        LiveSegment.objects.filter(admission_id=admission_id, camera=camera)
        .order_by("-index")
        .values("created_at", "frames", "screened", "screen")
        .first()
    )
    fresh = screened = False
    screen = ""
    if newest is not None:
        fresh = newest["created_at"] >= timezone.now() - timedelta(seconds=FRESH_SECONDS)
        screened = fresh and newest["screened"] >= SCREENED_SHARE * max(1, newest["frames"])
        screen = newest["screen"]
    if not fresh or (screened and screen == "no_picture"):
        return PictureState(
            "unavailable",
            _("The camera is not sending a picture"),
            _(
                "Cradle has no picture from the camera at the moment. Your baby is looked after as always; the "
                "picture comes back here by itself when the camera does."
            ),
            plays=True,
        )
    if screened and screen == "paused":
        # Resumed a moment ago: the newest second is still the paused screen.
        return PictureState(
            "paused",
            _("Paused by the nurse"),
            _("The nurse has turned the camera on again; the picture is coming back."),
            plays=True,
        )
    if screened:
        return PictureState(
            "checking",
            _("The picture is being checked"),
            _(
                "Cradle checks every picture for names and other details before showing it. It could not finish in "
                "time, so it shows a screen instead: this is about the picture, not about your baby. The picture "
                "comes back by itself, usually within seconds."
            ),
            plays=True,
        )
    return PictureState("live", _("Live"), "", plays=True)


def discharged(admission: Admission) -> PictureState:
    until = timezone.localtime(admission.clips_until)
    return PictureState(
        "discharged",
        _("Your baby has been discharged"),
        _(
            "Your baby has gone home or moved to another hospital, so there is no live picture any more. You can "
            "watch and save your clips until %(until)s; after that they are destroyed for good."
        )
        % {"until": formats.date_format(until, "DATE_FORMAT")},
        final=True,
    )


def ended() -> PictureState:
    return PictureState(
        "ended",
        _("Your access has ended"),
        _(
            "This account can no longer see this baby, or the videos have been destroyed. If you think this is a "
            "mistake, please ask the parents or the nurses."
        ),
        action=_("Back to the start"),
        href=reverse("home"),
        final=True,
    )


def second_step_needed() -> PictureState:
    return PictureState(
        "second_step",
        _("Add a second sign-in step to watch"),
        _("The unit shows your baby's pictures only to accounts with a second sign-in step."),
        action=_("Add a second step now"),
        href=reverse("mfa_prompt"),
        final=True,
    )


def of_signed_out(reason: str, next_path: str) -> PictureState:
    """The state of a player whose session has ended, told by the reason it ended."""
    if reason == DeviceSession.EndReason.ACCESS_ENDED:
        return ended()
    title, text = signed_out.words(reason)
    codes: dict[str, str] = {
        DeviceSession.EndReason.DISCHARGED: "discharged",
        DeviceSession.EndReason.BY_USER: "signed_out_elsewhere",
    }
    code = codes.get(reason, "signed_out")
    return PictureState(
        code,
        title,
        text,
        action=_("Sign in"),
        href=f"{reverse('account_login')}?next={next_path}",
        final=True,
    )
