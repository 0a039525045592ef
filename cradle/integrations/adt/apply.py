"""Carrying out an ADT event in Cradle, through the same services the nurse's buttons call.

Each event is checked against what Cradle knows before anything changes. A message that does not fit (a transfer
for a baby Cradle never admitted, a discharge from another bed than Cradle's, a bed already taken, an event older
than one already applied) is refused with the reason, never guessed at: the hospital's interface engine shows it to
its operators, and the feed page shows it to Cradle's administrator.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Max

from cradle import lifecycle
from cradle.audit.creation import acting
from cradle.integrations.adt.ack import Answer
from cradle.integrations.adt.config import FeedConfig
from cradle.integrations.adt.events import AdtEvent, Location, Refused
from cradle.integrations.adt.models import BedLocation, FeedMessage
from cradle.unit.models import Admission, Bed

# HL7 table 0357 codes used for refusals about Cradle's state.
UNKNOWN = "204"
CONFLICT = "207"


@dataclass(frozen=True)
class Outcome:
    answer: Answer
    admission: Admission | None = None
    changed: bool = False


def _done(admission: Admission | None, note: str = "", changed: bool = True) -> Outcome:
    return Outcome(Answer("AA", note), admission, changed)


def _place(bed: Bed) -> str:
    return f"bed {bed.label} of {bed.unit.code}"


def bed_at(location: Location | None) -> Bed | None:
    """The Cradle bed the administrator mapped to this place, if any."""
    if location is None:
        return None
    found = (
        BedLocation.objects.filter(
            point_of_care__iexact=location.point_of_care, room__iexact=location.room, hl7_bed__iexact=location.bed
        )
        .select_related("bed__unit")
        .first()
    )
    return found.bed if found else None


def _required_bed(location: Location | None, field: str = "PV1-3") -> Bed:
    if location is None:
        raise Refused("AE", f"{field}, the patient's location, is empty.", "101")
    bed = bed_at(location)
    if bed is None:
        raise Refused(
            "AE", f"The location {location} has no Cradle bed; the administrator maps it on the feed page.", "103"
        )
    return bed


def _open_admission(event: AdtEvent) -> Admission | None:
    found = list(
        Admission.objects.filter(inpatient_digest=event.patient, discharged_at__isnull=True, shredded_at__isnull=True)
        .select_related("bed__unit")
        .order_by("pk")[:2]
    )
    if len(found) > 1:
        raise Refused("AE", "Two open admissions in Cradle have this inpatient number; a nurse resolves it.", CONFLICT)
    return found[0] if found else None


def _needs_open_admission(event: AdtEvent) -> Admission:
    admission = _open_admission(event)
    if admission is None:
        raise Refused(
            "AE", f"Cradle has no open admission for this patient ({event.header.trigger} before A01?).", UNKNOWN
        )
    _in_order(event, admission)
    return admission


def _in_order(event: AdtEvent, admission: Admission) -> None:
    """Refuses an event older than one already applied to this admission: the feed sent them out of order."""
    if event.occurred_at is None:
        return
    latest = FeedMessage.objects.filter(admission_id=admission.pk, changed=True).aggregate(at=Max("occurred_at"))["at"]
    if latest is not None and event.occurred_at < latest:
        raise Refused(
            "AE",
            f"This {event.header.trigger} happened before a later event Cradle has already applied (out of order).",
            CONFLICT,
        )


def _same_bed(event: AdtEvent, admission: Admission, location: Location | None, field: str) -> None:
    """Refuses a message that places the baby elsewhere than Cradle has it."""
    if location is None:
        return
    bed = bed_at(location)
    if bed is None or bed.pk != admission.bed_id:
        raise Refused(
            "AE",
            f"{field} says {location}, but Cradle has the baby at {_place(admission.bed)}; a move is sent as A02.",
            CONFLICT,
        )


def _ignored_place(event: AdtEvent, config: FeedConfig) -> Outcome | None:
    """With a feed of the whole hospital, an event at a place with no Cradle bed is not Cradle's business."""
    unmapped = config.ignore_unmapped and event.location is not None and bed_at(event.location) is None
    if unmapped and _open_admission(event) is None:
        return _done(None, f"No Cradle bed at {event.location}; nothing to do.", changed=False)
    return None


def admit(event: AdtEvent, config: FeedConfig) -> Outcome:
    if (ignored := _ignored_place(event, config)) is not None:
        return ignored
    bed = _required_bed(event.location)
    current = _open_admission(event)
    if current is not None:
        if current.bed_id == bed.pk:
            return _done(current, "Already admitted at this bed.", changed=False)
        raise Refused(
            "AE", f"This patient is already admitted at {_place(current.bed)}; a move is sent as A02.", CONFLICT
        )
    if bed.current_admission is not None:
        raise Refused("AE", f"{_place(bed).capitalize()} already has another baby admitted.", CONFLICT)
    try:
        with acting("adt"):
            admission = lifecycle.admit(bed, inpatient_digest=event.patient)
    except lifecycle.AdmitError:  # admitted by a nurse a moment ago
        raise Refused("AE", f"{_place(bed).capitalize()} already has another baby admitted.", CONFLICT) from None
    return _done(admission)


def _move(event: AdtEvent, admission: Admission, bed: Bed) -> Outcome:
    if bed.pk == admission.bed_id:
        return _done(admission, "Already at this bed.", changed=False)
    try:
        lifecycle.transfer(admission, bed, within_unit=True)
    except lifecycle.TransferError as e:
        raise Refused("AE", str(e), CONFLICT) from None
    return _done(admission)


def transfer(event: AdtEvent, config: FeedConfig) -> Outcome:
    admission = _needs_open_admission(event)
    bed = _required_bed(event.location)
    _same_bed(event, admission, event.prior, "PV1-6, the prior location,")
    return _move(event, admission, bed)


def cancel_transfer(event: AdtEvent, config: FeedConfig) -> Outcome:
    # PV1-3 holds the place the baby goes back to; PV1-6 the place of the transfer being cancelled.
    admission = _needs_open_admission(event)
    back = _required_bed(event.location)
    _same_bed(event, admission, event.prior, "PV1-6, the cancelled transfer's location,")
    return _move(event, admission, back)


def discharge(event: AdtEvent, config: FeedConfig) -> Outcome:
    admission = _open_admission(event)
    if admission is None:
        if Admission.objects.filter(inpatient_digest=event.patient).exists():
            return _done(None, "Already discharged.", changed=False)
        if (ignored := _ignored_place(event, config)) is not None:
            return ignored
        raise Refused("AE", "Cradle has no admission for this patient to discharge.", UNKNOWN)
    _in_order(event, admission)
    _same_bed(event, admission, event.location, "PV1-3")
    lifecycle.discharge(admission)
    return _done(admission)


def update(event: AdtEvent, config: FeedConfig) -> Outcome:
    admission = _open_admission(event)
    if admission is None:
        return _done(None, "Cradle has no open admission for this patient; nothing to update.", changed=False)
    _same_bed(event, admission, event.location, "PV1-3")
    # Cradle keeps nothing an update could change (no names, no dates): acknowledged.
    return _done(admission, "Nothing in Cradle to update.", changed=False)


def cancel_admit(event: AdtEvent, config: FeedConfig) -> Outcome:
    admission = _needs_open_admission(event)
    if admission.family.filter(revoked_at__isnull=True).exists() or admission.clips.exists():
        raise Refused(
            "AE",
            "The family has already joined or clips were kept: a nurse ends this admission on the bed page.",
            CONFLICT,
        )
    lifecycle.discharge(admission)
    return _done(admission, "Admission cancelled.")


def cancel_discharge(event: AdtEvent, config: FeedConfig) -> Outcome:
    current = _open_admission(event)
    if current is not None:
        _same_bed(event, current, event.location, "PV1-3")
        return _done(current, "Already admitted.", changed=False)
    admission = (
        Admission.objects.filter(inpatient_digest=event.patient, discharged_at__isnull=False)
        .select_related("bed__unit")
        .order_by("-discharged_at")
        .first()
    )
    if admission is None:
        raise Refused("AE", "Cradle has no discharge of this patient to cancel.", UNKNOWN)
    _in_order(event, admission)
    bed = _required_bed(event.location) if event.location is not None else admission.bed
    try:
        lifecycle.cancel_discharge(admission, bed)
    except lifecycle.TransferError as e:
        raise Refused("AE", str(e), CONFLICT) from None
    return _done(admission)


def ignore(event: AdtEvent, config: FeedConfig) -> Outcome:
    return _done(None, f"{event.header.trigger} is not used by this Cradle.", changed=False)


STEPS = {
    "admit": admit,
    "transfer": transfer,
    "discharge": discharge,
    "update": update,
    "cancel_admit": cancel_admit,
    "cancel_transfer": cancel_transfer,
    "cancel_discharge": cancel_discharge,
    "ignore": ignore,
}


def carry_out(event: AdtEvent, config: FeedConfig) -> Outcome:
    """Applies the event; raises Refused when it does not fit what Cradle knows."""
    return STEPS[event.action](event, config)
