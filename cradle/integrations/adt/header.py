"""The MSH segment: who sent a message, what it is, and how to answer it."""

from __future__ import annotations

from dataclasses import dataclass, field

from cradle.integrations.adt.er7 import CHARSETS, Encoding, Message


@dataclass(frozen=True)
class Header:
    sending_application: str = ""
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    message_type: str = ""  # MSH-9.1, "ADT"
    trigger: str = ""  # MSH-9.2, "A01"
    control_id: str = ""  # MSH-10
    processing_id: str = ""  # MSH-11, "P" in production
    version: str = ""  # MSH-12, "2.5"
    charset: str = ""  # MSH-18 as sent
    encoding: Encoding = field(default_factory=Encoding)

    @property
    def sender(self) -> str:
        """The sending application and facility: control ids are unique per sender, not across senders."""
        return f"{self.sending_application}^{self.sending_facility}"

    @property
    def codec(self) -> str:
        return CHARSETS.get(self.charset.upper(), "utf-8")


def read_header(message: Message) -> Header:
    msh = message.header
    return Header(
        sending_application=msh.value(3),
        sending_facility=msh.value(4),
        receiving_application=msh.value(5),
        receiving_facility=msh.value(6),
        message_type=msh.value(9, 1).upper(),
        trigger=msh.value(9, 2).upper(),
        control_id=msh.value(10),
        processing_id=msh.value(11).upper(),
        version=msh.value(12),
        charset=msh.value(18),
        encoding=message.encoding,
    )
