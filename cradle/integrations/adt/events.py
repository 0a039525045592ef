"""What an ADT message asks of Cradle: which event, for which patient (as a keyed digest only), at which place.

Everything else in the message (names, dates of birth, addresses, doctors, diagnoses) is never read. A message
Cradle cannot act on is refused here with the reason, before anything changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from cradle.integrations.adt.ack import Answer
from cradle.integrations.adt.config import FeedConfig
from cradle.integrations.adt.er7 import Message
from cradle.integrations.adt.header import Header

# What each trigger event does in Cradle (A04 and A05 as the hospital configures them).
ACTIONS = {
    "A01": "admit",
    "A02": "transfer",
    "A03": "discharge",
    "A08": "update",
    "A11": "cancel_admit",
    "A12": "cancel_transfer",
    "A13": "cancel_discharge",
}
CONFIGURABLE = ("A04", "A05")
_TS = re.compile(r"(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d{1,4})?(?:([+-])(\d{2})(\d{2}))?")


class Refused(Exception):
    """Cradle will not act on the message; the answer says why (AE: the content, AR: the message as a whole)."""

    def __init__(self, code: str, reason: str, error: str) -> None:
        super().__init__(reason)
        self.answer = Answer(code, reason, error)


@dataclass(frozen=True)
class Location:
    """A place in the hospital as HL7 names it (PL: point of care, room, bed)."""

    point_of_care: str
    room: str
    bed: str

    def __str__(self) -> str:
        room = f"room {self.room}" if self.room else ""
        bed = f"bed {self.bed}" if self.bed else ""
        return ", ".join(part for part in (self.point_of_care, room, bed) if part)

    @property
    def empty(self) -> bool:
        return not (self.point_of_care or self.room or self.bed)


@dataclass(frozen=True)
class AdtEvent:
    header: Header
    action: str  # admit, transfer, discharge, update, cancel_admit, cancel_transfer, cancel_discharge, ignore
    patient: str  # the keyed digest of the inpatient number, never the number
    location: Location | None
    prior: Location | None
    occurred_at: datetime | None


def check_header(header: Header, config: FeedConfig) -> None:
    """Refuses (AR) a message Cradle does not take at all: not ADT, an unknown event, another processing id."""
    if not header.control_id:
        raise Refused("AR", "MSH-10, the message control id, is empty.", "101")
    if not header.version.startswith("2."):
        raise Refused("AR", f"HL7 version {header.version[:10] or '(none)'} is not supported; send v2.x.", "203")
    if header.processing_id not in config.processing_ids:
        raise Refused("AR", f"Processing id {header.processing_id[:5] or '(none)'} is not accepted here.", "202")
    if header.message_type != "ADT":
        raise Refused("AR", f"Message type {header.message_type[:10] or '(none)'} is not accepted; send ADT.", "200")
    if header.trigger not in ACTIONS and header.trigger not in CONFIGURABLE:
        raise Refused("AR", f"Event {header.trigger[:10] or '(none)'} is not accepted.", "201")


def action_of(header: Header, config: FeedConfig) -> str:
    if header.trigger in CONFIGURABLE:
        return "admit" if config.treatments[header.trigger] == "admit" else "ignore"
    return ACTIONS[header.trigger]


def parse_time(value: str, zone: str) -> datetime | None:
    """An HL7 TS/DTM (YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]); local times are in the hospital's time zone."""
    match = _TS.fullmatch(value.strip())
    if not match:
        return None
    y, mo, d, h, mi, s, sign, zh, zm = match.groups()
    try:
        moment = datetime(int(y), int(mo or 1), int(d or 1), int(h or 0), int(mi or 0), int(s or 0))
    except ValueError:
        return None
    if sign:
        offset = timedelta(hours=int(zh), minutes=int(zm)) * (1 if sign == "+" else -1)
        return moment.replace(tzinfo=timezone(offset))
    return moment.replace(tzinfo=ZoneInfo(zone))


def _location(message: Message, field: int) -> Location | None:
    pv1 = message.first("PV1")
    if pv1 is None:
        return None
    parts = [*pv1.components(field), "", "", ""]
    location = Location(parts[0].strip(), parts[1].strip(), parts[2].strip())
    return None if location.empty else location


def _patient_number(message: Message, config: FeedConfig) -> str:
    where = config.patient_id
    if where.field == "PV1-19":
        pv1 = message.first("PV1")
        return pv1.value(19) if pv1 else ""
    pid = message.first("PID")
    if pid is None:
        return ""
    for repetition in pid.repetitions(3):
        parts = [*pid.components(3, repetition), "", "", "", "", ""]
        if parts[0].strip() and (not where.type_code or parts[4].strip().upper() == where.type_code):
            return parts[0].strip()
    return ""


def read_event(message: Message, header: Header, config: FeedConfig, digest, zone: str) -> AdtEvent:
    """The event the message describes; raises Refused (AE) when a segment or field Cradle needs is missing.

    `digest` turns the inpatient number into its keyed hash at once (cradle.unit.models.inpatient_digest): the
    number itself goes no further than this function.
    """
    action = action_of(header, config)
    names = message.names()
    if action != "ignore":
        for needed in ("PID", "PV1"):
            if needed not in names:
                raise Refused("AE", f"The {header.trigger} message has no {needed} segment.", "100")
        if names.index("PID") > names.index("PV1"):
            raise Refused("AE", "The PID segment must come before PV1.", "100")
    number = _patient_number(message, config) if action != "ignore" else ""
    if action != "ignore" and not number:
        where = config.patient_id
        named = f"{where.field} of type {where.type_code}" if where.type_code else where.field
        raise Refused("AE", f"{named} holds no inpatient number.", "101")
    evn = message.first("EVN")
    stamp = (evn.value(6) or evn.value(2)) if evn else ""
    stamp = stamp or message.header.value(7)
    occurred = parse_time(stamp, zone) if stamp else None
    if stamp and occurred is None:
        raise Refused("AE", "The event time (EVN-6, EVN-2 or MSH-7) is not an HL7 date and time.", "102")
    return AdtEvent(
        header=header,
        action=action,
        patient=digest(number) if number else "",
        location=_location(message, 3),
        prior=_location(message, 6),
        occurred_at=occurred,
    )
