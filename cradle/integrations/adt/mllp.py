"""MLLP, the way HL7 v2 messages travel over TCP: each one framed as <VT> message <FS><CR>, each answered in turn.

The listener takes connections only from the allowed addresses, optionally over TLS, bounds every message's size
and every connection's idle time, and survives anything a sender does: garbage outside frames, a frame cut short by
a new one, a message larger than the limit, a client that disconnects mid-message. What it cannot read it reports
to its receiver, which answers with a rejection where the message's header can still be read. No Django here.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import ssl
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

START, END, CR = b"\x0b", b"\x1c", b"\x0d"
# Bytes kept of a message too large to take, so that its header can still be read for the rejection.
HEAD_BYTES = 8192
# A peer that sends this much outside any frame does not speak MLLP; the connection is closed.
MAX_JUNK = 64 * 1024

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def framed(message: bytes) -> bytes:
    return START + message + END + CR


@dataclass(frozen=True)
class Frame:
    data: bytes


@dataclass(frozen=True)
class Oversize:
    head: bytes
    size: int


@dataclass(frozen=True)
class Broken:
    """A new start block arrived before the end of the frame it interrupted; the interrupted part is discarded."""

    head: bytes


class FrameReader:
    """Splits a byte stream into frames; keeps at most `max_bytes` of any one message in memory."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.junk = 0
        self._inside = False
        self._buffer = bytearray()
        self._size = 0

    @property
    def partial(self) -> int:
        """Bytes of a message begun and not ended (0 when between messages)."""
        return self._size if self._inside else 0

    def _take(self, chunk: bytes) -> None:
        self._size += len(chunk)
        room = self.max_bytes - len(self._buffer)
        if room > 0:
            self._buffer += chunk[:room]

    def _begin(self) -> None:
        self._inside, self._buffer, self._size = True, bytearray(), 0

    def feed(self, data: bytes) -> list[Frame | Oversize | Broken]:
        out: list[Frame | Oversize | Broken] = []
        i = 0
        while i < len(data):
            if not self._inside:
                j = data.find(START, i)
                stray = data[i : j if j >= 0 else len(data)]
                self.junk += len(stray.strip(b"\r\n\t "))  # a CR after the end block, or line breaks, are harmless
                if j < 0:
                    break
                self._begin()
                i = j + 1
                continue
            end, restart = data.find(END, i), data.find(START, i)
            if restart >= 0 and (end < 0 or restart < end):
                self._take(data[i:restart])
                out.append(Broken(bytes(self._buffer[:HEAD_BYTES])))
                self._inside = False
                i = restart
                continue
            if end < 0:
                self._take(data[i:])
                break
            self._take(data[i:end])
            if self._size > self.max_bytes:
                out.append(Oversize(bytes(self._buffer[:HEAD_BYTES]), self._size))
            else:
                out.append(Frame(bytes(self._buffer)))
            self._inside, self._buffer = False, bytearray()
            i = end + 1
        return out


class Receiver(Protocol):
    """What the listener hands messages to (cradle.integrations.adt.receiver in Cradle)."""

    def message(self, data: bytes, peer: str) -> bytes:
        """Processes one complete message; gives the acknowledgement to send back."""

    def unreadable(self, head: bytes, problem: str, peer: str) -> bytes | None:
        """A frame that cannot be processed (`too_large`, `broken`); gives a rejection, or None if none can be made."""

    def noticed(self, what: str, peer: str, **facts: object) -> None:
        """Something about a connection worth recording: `address_refused`, `tls_failed`, `cut_off`, `not_mllp`,
        `too_many_connections`."""

    def finished(self) -> None:
        """The connection's thread ends (to release what it held, such as a database connection)."""


class Listener:
    def __init__(
        self,
        address: tuple[str, int],
        receiver: Receiver,
        *,
        allowed: Sequence[Network],
        tls: ssl.SSLContext | None = None,
        max_bytes: int = 1 << 20,
        idle_seconds: float = 300.0,
        max_connections: int = 32,
    ) -> None:
        self.receiver = receiver
        self.allowed = list(allowed)
        self.tls = tls
        self.max_bytes = max_bytes
        self.idle_seconds = idle_seconds
        self._slots = threading.BoundedSemaphore(max_connections)
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._socket = socket.create_server(address, family=family, backlog=64)
        self._socket.settimeout(0.5)
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def address(self) -> tuple[str, int]:
        return self._socket.getsockname()[:2]

    def serve(self, stop: threading.Event) -> None:
        """Accepts connections until `stop` is set, then closes every connection still open."""
        try:
            while not stop.is_set():
                try:
                    conn, peer = self._socket.accept()
                except TimeoutError:
                    continue
                except OSError:
                    if stop.is_set():
                        break
                    continue
                if not self._slots.acquire(blocking=False):
                    self.receiver.noticed("too_many_connections", peer[0])
                    conn.close()
                    continue
                threading.Thread(target=self._connection, args=(conn, peer[0], stop), daemon=True).start()
        finally:
            self._socket.close()
            with self._lock:
                for conn in list(self._open):
                    with contextlib.suppress(OSError):
                        conn.shutdown(socket.SHUT_RDWR)

    def _is_allowed(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer.split("%")[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in network for network in self.allowed)

    def _connection(self, conn: socket.socket, peer: str, stop: threading.Event) -> None:
        with self._lock:
            self._open.add(conn)
        try:
            if not self._is_allowed(peer):
                self.receiver.noticed("address_refused", peer)
                return
            if self.tls is not None:
                conn.settimeout(10)
                try:
                    wrapped = self.tls.wrap_socket(conn, server_side=True)
                except (OSError, ssl.SSLError) as e:
                    self.receiver.noticed("tls_failed", peer, error=type(e).__name__)
                    return
                with self._lock:
                    self._open.discard(conn)
                    self._open.add(wrapped)
                conn = wrapped
            conn.settimeout(self.idle_seconds)
            self._exchange(conn, peer, stop)
        except Exception as e:
            # Never the message: a traceback could quote it. The type of the failure is enough to look into it.
            log.error("ADT connection from %s ended by an unexpected %s", peer, type(e).__name__)
        finally:
            with self._lock:
                self._open.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()
            self._slots.release()
            self.receiver.finished()

    def _exchange(self, conn: socket.socket, peer: str, stop: threading.Event) -> None:
        reader = FrameReader(self.max_bytes)
        while not stop.is_set():
            try:
                data = conn.recv(65536)
            except (TimeoutError, OSError):
                break
            if not data:
                break
            for item in reader.feed(data):
                if isinstance(item, Frame):
                    reply: bytes | None = self.receiver.message(item.data, peer)
                elif isinstance(item, Oversize):
                    reply = self.receiver.unreadable(item.head, "too_large", peer)
                else:
                    reply = self.receiver.unreadable(item.head, "broken", peer)
                if reply is not None:
                    conn.sendall(framed(reply))
            if reader.junk > MAX_JUNK:
                self.receiver.noticed("not_mllp", peer, bytes=reader.junk)
                return
        if reader.partial:
            self.receiver.noticed("cut_off", peer, bytes=reader.partial)
