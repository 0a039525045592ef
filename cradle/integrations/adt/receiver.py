"""One message from the wire to Cradle and back: read, check, deduplicate, apply, keep, audit, acknowledge.

Every message gets an answer and an audit event, whatever it holds; neither quotes the patient segments. Messages
are applied one at a time, in the order they arrive, so that a transfer never overtakes the admission before it.
A message sent again with the same control id after it was applied gets the same answer and changes nothing; a
different message under a control id already applied is refused.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone, translation
from django.utils.crypto import salted_hmac

from cradle.audit.actions import Action
from cradle.audit.log import record
from cradle.audit.models import Event
from cradle.integrations.adt import apply, er7, events
from cradle.integrations.adt.ack import Answer, acknowledgement
from cradle.integrations.adt.config import FeedConfig
from cradle.integrations.adt.header import Header, read_header
from cradle.integrations.adt.models import FeedMessage
from cradle.unit.models import inpatient_digest

log = logging.getLogger(__name__)

_OUTCOMES = {"AA": Event.Outcome.OK, "AE": Event.Outcome.FAILED, "AR": Event.Outcome.DENIED}
_UNREADABLE = {
    "too_large": "The message is larger than {max_bytes} bytes.",
    "broken": "The message was cut short by the start of another one (framing error).",
}


def content_digest(text: str) -> str:
    """A keyed digest of the message, to tell a resend from a different message under the same control id."""
    normalised = "\r".join(line.rstrip() for line in er7._SEGMENT_BREAK.split(text) if line.strip())
    return salted_hmac("cradle.adt.message", normalised, algorithm="sha256").hexdigest()


def header_of(data: bytes) -> Header | None:
    """The header of a message that cannot be read whole, if at least its MSH segment can be."""
    end = data.find(b"\r")
    try:
        first = data[: end if end >= 0 else len(data)]
        return read_header(er7.parse(first.decode(er7.charset_of(first), errors="replace")))
    except er7.Malformed:
        return None


class FeedReceiver:
    """Cradle's side of the MLLP listener (cradle.integrations.adt.mllp.Receiver)."""

    def __init__(self, config: FeedConfig) -> None:
        self.config = config
        self._one_at_a_time = threading.Lock()

    def message(self, data: bytes, peer: str) -> bytes:
        now = timezone.now()
        try:
            text = er7.decode(data)
            message = er7.parse(text)
        except er7.Malformed as e:
            return self._answer(header_of(data), Answer("AR", str(e), "102"), peer)
        header = read_header(message)
        try:
            events.check_header(header, self.config)
        except events.Refused as refused:
            return self._answer(header, refused.answer, peer)
        with self._one_at_a_time, translation.override(settings.LANGUAGE_CODE):
            try:
                return self._process(message, header, content_digest(text), peer)
            except DatabaseError:
                # Nothing was kept: the feed sends the message again, and it is processed then.
                log.warning("ADT message %s not processed: the database is unavailable", header.control_id[:40])
                answer = Answer("AR", "Cradle cannot store messages at the moment; send it again later.", "207")
            except Exception as e:
                log.error("ADT message %s not processed: unexpected %s", header.control_id[:40], type(e).__name__)
                answer = Answer("AR", "Cradle could not process the message (internal error).", "207")
        return self._answer(header, answer, peer, now=now)

    def _process(self, message: er7.Message, header: Header, digest: str, peer: str) -> bytes:
        with transaction.atomic():
            previous = (
                FeedMessage.objects.select_for_update()
                .filter(sender=header.sender[:120], control_id=header.control_id[:64])
                .first()
            )
            if previous is not None and previous.answer == "AA":
                if previous.digest == digest:
                    answer = Answer(previous.answer, previous.reason, previous.error)
                    return self._answer(header, answer, peer, admission=previous.admission_id, duplicate=True)
                reused = f"Control id {header.control_id[:40]} was already used for another message."
                answer = Answer("AE", reused, "205")
                return self._answer(header, answer, peer)
            occurred = None
            try:
                with transaction.atomic():
                    event = events.read_event(message, header, self.config, inpatient_digest, settings.TIME_ZONE)
                    occurred = event.occurred_at
                    outcome = apply.carry_out(event, self.config)
            except events.Refused as refused:
                outcome = apply.Outcome(refused.answer)
            admission = outcome.admission
            FeedMessage.objects.update_or_create(
                sender=header.sender[:120],
                control_id=header.control_id[:64],
                defaults={
                    "digest": digest,
                    "event": header.trigger[:3],
                    "received_at": timezone.now(),
                    "occurred_at": occurred,
                    "answer": outcome.answer.code,
                    "reason": outcome.answer.reason[:300],
                    "error": outcome.answer.error,
                    "changed": outcome.changed,
                    "admission_id": admission.pk if admission else None,
                    "unit_id": admission.unit_id if admission else None,
                },
            )
            return self._answer(header, outcome.answer, peer, admission=admission, changed=outcome.changed)

    def _answer(self, header: Header | None, answer: Answer, peer: str, now=None, **facts) -> bytes:
        admission = facts.pop("admission", None)
        try:
            record(
                None,
                Action.ADT_MESSAGE,
                admission=admission,
                outcome=_OUTCOMES[answer.code],
                via="adt",
                peer=peer,
                event=header.trigger[:10] if header else "",
                control_id=header.control_id[:64] if header else "",
                sender=header.sender[:120] if header else "",
                answer=answer.code,
                reason=answer.reason,
                **facts,
            )
        except DatabaseError:
            log.warning("the answer to an ADT message could not be audited: the database is unavailable")
        return acknowledgement(header, answer, now or timezone.now())

    def unreadable(self, head: bytes, problem: str, peer: str) -> bytes | None:
        reason = _UNREADABLE[problem].format(max_bytes=self.config.max_bytes)
        return self._answer(header_of(head), Answer("AR", reason, "207"), peer, problem=problem)

    def noticed(self, what: str, peer: str, **facts: object) -> None:
        outcome = Event.Outcome.DENIED if what in {"address_refused", "tls_failed"} else Event.Outcome.FAILED
        try:
            record(None, Action.ADT_CONNECTION, outcome=outcome, via="adt", peer=peer, problem=what, **facts)
        except DatabaseError:
            log.warning("ADT connection from %s: %s (not audited: the database is unavailable)", peer, what)

    def finished(self) -> None:
        connection.close()
