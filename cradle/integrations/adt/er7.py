"""Reading HL7 v2 messages in their pipe-delimited encoding (ER7): segments, fields, components, escapes.

Only what the admission feed needs, read strictly: anything that is not a well-formed message is refused with one
sentence that never quotes the message, since it carries a patient's name and other PHI. No Django here.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

_SEGMENT_NAME = re.compile(r"[A-Z][A-Z0-9]{2}")
_SEGMENT_BREAK = re.compile(r"\r\n|\r|\n")
MAX_SEGMENTS = 2000

# MSH-18 character sets (HL7 table 0211) and the codec that reads each; ASCII (the default) is read as UTF-8, which
# it is a subset of, since many senders send UTF-8 without saying so.
CHARSETS = {
    "": "utf-8",
    "ASCII": "utf-8",
    "UNICODE UTF-8": "utf-8",
    "UTF-8": "utf-8",
    "8859/1": "latin-1",
    "8859/15": "iso8859-15",
    "GB 18030-2000": "gb18030",
    "GB18030": "gb18030",
    "BIG-5": "big5",
    "ISO IR87": "iso2022_jp",
}


class Malformed(ValueError):
    """The bytes are not an HL7 v2 message that can be read; the text is one sentence without message content."""


@dataclass(frozen=True)
class Encoding:
    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"

    def unescape(self, text: str) -> str:
        """Replaces HL7 escape sequences (\\F\\, \\S\\, \\T\\, \\R\\, \\E\\, \\Xhh\\); drops formatting ones."""
        e = self.escape
        if e not in text:
            return text
        out, i = [], 0
        while i < len(text):
            j = text.find(e, i)
            if j < 0:
                out.append(text[i:])
                break
            out.append(text[i:j])
            k = text.find(e, j + 1)
            if k < 0:
                out.append(text[j:])
                break
            code = text[j + 1 : k]
            simple = {"F": self.field, "S": self.component, "T": self.subcomponent, "R": self.repetition, "E": e}
            if code in simple:
                out.append(simple[code])
            elif code.startswith("X") and len(code) % 2 == 1:
                with contextlib.suppress(ValueError):
                    out.append(bytes.fromhex(code[1:]).decode("latin-1"))
            i = k + 1
        return "".join(out)


@dataclass(frozen=True)
class Segment:
    name: str
    # fields[n] is field n of the segment, as in "PV1-3"; fields[0] is the name. For MSH, fields[1] is the field
    # separator itself, as the standard counts it.
    fields: tuple[str, ...]
    encoding: Encoding

    def raw(self, n: int) -> str:
        return self.fields[n] if 0 <= n < len(self.fields) else ""

    def repetitions(self, n: int) -> list[str]:
        return self.raw(n).split(self.encoding.repetition) if self.name != "MSH" or n > 2 else [self.raw(n)]

    def components(self, n: int, repetition: str | None = None) -> list[str]:
        """The components of field n (of its first repetition, or of the one given), unescaped."""
        value = self.repetitions(n)[0] if repetition is None else repetition
        enc = self.encoding
        return [enc.unescape(c.split(enc.subcomponent)[0]) for c in value.split(enc.component)]

    def value(self, n: int, component: int = 1) -> str:
        """One component (1-based) of the first repetition of field n, unescaped and stripped."""
        parts = self.components(n)
        return parts[component - 1].strip() if component <= len(parts) else ""


@dataclass(frozen=True)
class Message:
    segments: tuple[Segment, ...]
    encoding: Encoding

    @property
    def header(self) -> Segment:
        return self.segments[0]

    def first(self, name: str) -> Segment | None:
        return next((s for s in self.segments if s.name == name), None)

    def names(self) -> list[str]:
        return [s.name for s in self.segments]


def charset_of(frame: bytes) -> str:
    """The codec that MSH-18 names, read from the header before the message is decoded."""
    end = frame.find(b"\r")
    head = frame[: end if end >= 0 else 4096]
    if not head.startswith(b"MSH") or len(head) < 8:
        raise Malformed("The message does not begin with an MSH segment.")
    fields = head.split(head[3:4])  # fields[0] is "MSH", fields[n - 1] is MSH-n
    declared = fields[17].split(fields[1][:1] or b"^")[0] if len(fields) > 17 else b""
    name = declared.decode("ascii", "replace").strip().upper()
    if name not in CHARSETS:
        raise Malformed(f"The character set in MSH-18 ({name[:20]}) is not supported.")
    return CHARSETS[name]


def decode(frame: bytes) -> str:
    codec = charset_of(frame)
    try:
        return frame.decode(codec)
    except UnicodeDecodeError as e:
        raise Malformed(f"The message is not valid {codec} at byte {e.start}.") from None


def parse(text: str) -> Message:
    """Reads a decoded message; raises Malformed with the first thing that is wrong."""
    if not text.startswith("MSH") or len(text) < 8:
        raise Malformed("The message does not begin with an MSH segment.")
    field = text[3]
    if field.isalnum() or field in "\r\n ":
        raise Malformed("MSH-1, the field separator, is not a separator.")
    separators = text[4 : text.find(field, 4)] if text.find(field, 4) > 0 else ""
    if len(separators) not in (4, 5) or len(set(separators[:4] + field)) != 5 or any(c.isalnum() for c in separators):
        raise Malformed("MSH-2 does not hold four distinct encoding characters.")
    encoding = Encoding(field, separators[0], separators[1], separators[2], separators[3])
    lines = [line for line in _SEGMENT_BREAK.split(text) if line.strip()]
    if len(lines) > MAX_SEGMENTS:
        raise Malformed(f"The message has more than {MAX_SEGMENTS} segments.")
    segments = []
    for number, line in enumerate(lines, start=1):
        name = line[:3]
        if not _SEGMENT_NAME.fullmatch(name) or (len(line) > 3 and line[3] != field):
            raise Malformed(f"Segment {number} does not begin with a segment name.")
        parts = line.split(field)
        if name == "MSH":
            if number != 1:
                raise Malformed(f"Segment {number} is a second MSH segment.")
            parts = [parts[0], field, *parts[1:]]
        segments.append(Segment(name, tuple(parts), encoding))
    return Message(tuple(segments), encoding)
