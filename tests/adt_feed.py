"""A hospital's side of the admission feed for the tests: ADT messages as an interface engine sends them (with the
PHI a real one carries, so that tests can prove none of it stays), and an MLLP client over a real TCP socket.

The messages are built by hand, segment by segment, as HL7 v2.5 lays them out; tests/test_adt_feed.py also reads
them with the `hl7` package from PyPI where it is installed, as a check from outside.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass

VT, FS, CR = b"\x0b", b"\x1c", b"\x0d"

# What a real message carries and Cradle must never keep, log or echo.
PHI = ("ZHANG", "XIAOBAO", "WANG^MEI", "1 Secret Road", "13800138000", "20261201", "Dr Li", "Jaundice")


def adt(
    trigger: str,
    control_id: str,
    *,
    mrn: str = "MRN0001",
    location: str = "NICU^^3",
    prior: str = "",
    when: str = "20261206120000",
    message_type: str = "ADT",
    version: str = "2.5",
    processing: str = "P",
    charset: str = "",
    visit: str = "V778899",
) -> str:
    """An ADT message of `trigger` for the test baby, as an interface engine sends it."""
    kind = f"{message_type}^{trigger}^ADT_A01"
    msh = f"MSH|^~\\&|HIS|HOSPITAL|CRADLE|NICU|{when}||{kind}|{control_id}|{processing}|{version}"
    if charset:
        msh += f"||||||{charset}"
    segments = [
        msh,
        f"EVN|{trigger}|{when}",
        f"PID|1||{mrn}^^^HOSP^MR~440101202612010011^^^CHN^NI||ZHANG^XIAOBAO||20261201|M|||1 Secret Road^^Shanghai"
        "||13800138000",
        "NK1|1|WANG^MEI|MTH|1 Secret Road^^Shanghai|13800138000",
        pv1(location=f"{location}^HOSP", prior=f"{prior}^HOSP" if prior else "", visit=visit),
        "DG1|1||P59.9^Jaundice^I10",
    ]
    return "\r".join(segments) + "\r"


def pv1(location: str, prior: str, visit: str) -> str:
    fields = [""] * 20
    fields[1:4] = ["1", "I", location]  # set id, patient class, assigned location (PV1-3)
    fields[6] = prior  # PV1-6
    fields[7] = "Dr Li^Dr Li"  # the attending doctor
    fields[10] = "NEO"
    fields[19] = visit  # PV1-19, the visit number
    return "PV1|" + "|".join(fields[1:])


@dataclass
class Ack:
    code: str
    control_id: str
    text: str
    error: str
    raw: str


def read_ack(raw: bytes) -> Ack:
    text = raw.decode("utf-8")
    segments = {line[:3]: line.split("|") for line in text.split("\r") if line}
    msa = segments["MSA"] + ["", "", ""]
    err = segments.get("ERR", [])
    error = err[3].split("^")[0] if len(err) > 3 else ""
    return Ack(msa[1], msa[2], msa[3], error, text)


class Sender:
    """An interface engine's connection: sends framed messages and reads each acknowledgement."""

    def __init__(self, address: tuple[str, int], tls: ssl.SSLContext | None = None, timeout: float = 20) -> None:
        raw = socket.create_connection(address, timeout=timeout)
        self.sock = tls.wrap_socket(raw, server_hostname=address[0]) if tls else raw
        self._pending = b""

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def receive(self) -> Ack | None:
        """The next acknowledgement, or None when the listener closed the connection."""
        while FS not in self._pending:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            self._pending += chunk
        frame, _, self._pending = self._pending.partition(FS)
        self._pending = self._pending.removeprefix(CR)
        assert frame.startswith(VT), frame[:20]
        return read_ack(frame[1:])

    def send(self, message: str | bytes) -> Ack:
        data = message.encode() if isinstance(message, str) else message
        self.send_raw(VT + data + FS + CR)
        ack = self.receive()
        assert ack is not None, "the listener closed the connection instead of answering"
        return ack

    def close(self) -> None:
        self.sock.close()
