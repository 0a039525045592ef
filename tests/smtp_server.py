"""A real SMTP server for tests (aiosmtpd), keeping every message it is given."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message

from aiosmtpd.controller import Controller


class Keeper:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def smtp_server() -> Iterator[tuple[Keeper, int]]:
    keeper = Keeper()
    port = free_port()
    controller = Controller(keeper, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield keeper, port
    finally:
        controller.stop()


def body(message: Message) -> str:
    part = message.get_payload(decode=True)
    return part.decode(message.get_content_charset() or "utf-8")
