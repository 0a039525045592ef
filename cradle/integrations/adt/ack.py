"""The answer to every message: an ACK with AA (applied), AE (error in the content) or AR (rejected).

The reason travels in MSA-3 and in an ERR segment (HL7 table 0357 code and a sentence in ERR-8). Reasons name
control ids, message types and ward locations, never anything from the patient segments.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from cradle.integrations.adt.er7 import Encoding
from cradle.integrations.adt.header import Header

# HL7 table 0357: message error condition codes.
ERRORS = {
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version id",
    "204": "Unknown key identifier",
    "205": "Duplicate key identifier",
    "206": "Application record locked",
    "207": "Application internal error",
}


@dataclass(frozen=True)
class Answer:
    """What Cradle answers: the acknowledgement code, the reason (empty when applied) and its table 0357 code."""

    code: str  # AA, AE or AR
    reason: str = ""
    error: str = ""

    @property
    def accepted(self) -> bool:
        return self.code == "AA"


def _escape(text: str, enc: Encoding) -> str:
    out = text.replace(enc.escape, f"{enc.escape}E{enc.escape}")
    for char, code in ((enc.field, "F"), (enc.component, "S"), (enc.subcomponent, "T"), (enc.repetition, "R")):
        out = out.replace(char, f"{enc.escape}{code}{enc.escape}")
    return " ".join(out.split())  # no segment breaks inside a field


def acknowledgement(header: Header | None, answer: Answer, now: datetime) -> bytes:
    """The ACK message for `header` (or a bare one when the message had no readable header), encoded as it was."""
    h = header or Header()
    enc = h.encoding
    f, c = enc.field, enc.component
    separators = enc.component + enc.repetition + enc.escape + enc.subcomponent
    msh = [
        "MSH",
        separators,
        _escape(h.receiving_application or "CRADLE", enc),
        _escape(h.receiving_facility, enc),
        _escape(h.sending_application, enc),
        _escape(h.sending_facility, enc),
        now.strftime("%Y%m%d%H%M%S"),
        "",
        f"ACK{c}{_escape(h.trigger, enc)}{c}ACK" if h.trigger else "ACK",
        secrets.token_hex(10).upper(),
        _escape(h.processing_id or "P", enc),
        _escape(h.version or "2.5", enc),
    ]
    if h.charset:
        msh += [""] * 5 + [_escape(h.charset, enc)]
    segments = [f.join(msh), f.join(["MSA", answer.code, _escape(h.control_id, enc), _escape(answer.reason, enc)])]
    if answer.error:
        code = f"{answer.error}{c}{ERRORS.get(answer.error, '')}{c}HL70357"
        segments.append(f.join(["ERR", "", "", code, "E", "", "", "", _escape(answer.reason, enc)]))
    return ("\r".join(segments) + "\r").encode(h.codec, errors="replace")
