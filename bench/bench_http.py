"""A small HTTP/1.1 keep-alive client on asyncio streams, for simulated viewers in separate client processes.

Each viewer keeps one connection, as a browser tab does. The server may close an idle keep-alive connection; the
viewer then reconnects and asks again, as browsers do, and that is not counted as an error.
"""

from __future__ import annotations

import asyncio
import random
import re
import resource
import time
from dataclasses import dataclass, field


class Connection:
    def __init__(self, port: int, cookie: str | None) -> None:
        self.port = port
        self._head = "Host: 127.0.0.1\r\nUser-Agent: cradle-bench\r\n"
        if cookie:
            self._head += f"Cookie: cradle_session={cookie}\r\n"
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 20)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def get(self, path: str) -> tuple[int, bytes]:
        """Status and body of one GET on the kept-alive connection."""
        for attempt in (0, 1):
            reused = self._writer is not None
            if not reused:
                await self._open()
            try:
                return await self._exchange(path)
            except (asyncio.IncompleteReadError, ConnectionError):
                self.close()
                if not reused or attempt:
                    raise
        raise ConnectionError("unreachable")

    async def _exchange(self, path: str) -> tuple[int, bytes]:
        assert self._reader is not None and self._writer is not None
        self._writer.write(f"GET {path} HTTP/1.1\r\n{self._head}\r\n".encode())
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await self._reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
                parts.append(await self._reader.readexactly(size + 2))
                if size == 0:
                    break
            body = b"".join(p[:-2] for p in parts)
        else:
            body = await self._reader.read()
            self.close()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, body


def playlist_paths(body: bytes) -> list[str]:
    return [line for line in body.decode().splitlines() if line and not line.startswith("#")]


def playlist_keys(body: bytes) -> list[str]:
    """The key addresses of an encrypted (edge mode) playlist, each once, as a player fetches them."""
    found = re.findall(r'#EXT-X-KEY:METHOD=AES-128,URI="([^"]+)"', body.decode())
    return list(dict.fromkeys(found))


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    bytes: int = 0
    cpu: float = 0.0


async def _playlist(conn: Connection, playlist: str, tally: Tally) -> list[str]:
    try:
        status, body = await conn.get(playlist)
    except (OSError, asyncio.IncompleteReadError):
        status, body = 0, b""
    paths = playlist_paths(body) if status == 200 else []
    if not paths:
        tally.errors += 1
    for key in playlist_keys(body) if paths else []:
        try:
            status, body = await conn.get(key)
        except (OSError, asyncio.IncompleteReadError):
            status, body = 0, b""
        if status != 200 or len(body) != 16:
            tally.errors += 1
    return paths


async def _viewer(
    conn: Connection, paths: list[str], paced: bool, start: float, seconds: float, tally: Tally, reload: str = ""
) -> None:
    end = start + seconds
    due = start + (random.random() if paced else 0.0)
    n = random.randrange(len(paths))
    while True:
        if paced:
            await asyncio.sleep(max(0.0, due - time.time()))
            due += 1.0
        if time.time() >= end:
            return
        if reload:  # a live player reloads its playlist before each new segment (not counted in the latencies)
            try:
                status, body = await conn.get(reload)
            except (OSError, asyncio.IncompleteReadError):
                status = 0
                conn.close()
            if status != 200:
                tally.errors += 1
                continue
        began = time.time()
        try:
            status, body = await conn.get(paths[n % len(paths)])
        except (OSError, asyncio.IncompleteReadError):
            tally.errors += 1
            conn.close()
            continue
        done = time.time()
        n += 1
        if status != 200 or not body:
            tally.errors += 1
            continue
        tally.latencies.append(done - began)
        tally.bytes += len(body)


def run_viewers(port, cookies, playlist, paced, seconds, ready, go, start, results, reload=False) -> None:
    """One client process's viewers: each gets its playlist, then (once `go` is set) fetches its segments until
    `start` + `seconds`. Puts (latencies, errors, bytes, CPU seconds while fetching) on `results`."""
    tally = Tally()

    async def main() -> None:
        conns = [Connection(port, c) for c in cookies]
        try:
            lists = await asyncio.gather(*(_playlist(conn, playlist, tally) for conn in conns))
            ready.put(True)
            await asyncio.get_running_loop().run_in_executor(None, go.wait)
            cpu = _cpu()
            await asyncio.gather(
                *(
                    _viewer(conn, paths, paced, start.value, seconds, tally, playlist if reload else "")
                    for conn, paths in zip(conns, lists, strict=True)
                    if paths
                )
            )
            tally.cpu = _cpu() - cpu
        finally:
            for conn in conns:
                conn.close()

    asyncio.run(main())
    results.put((tally.latencies, tally.errors, tally.bytes, tally.cpu))


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
