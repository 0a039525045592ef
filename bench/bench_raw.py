"""The baseline for bench/delivery.py: the same segment bytes from memory, with no session, scope, audit or decryption.

Served by gunicorn with the same worker model as `cradle serve`, so that the ratio measures Cradle's work per fetch
rather than one HTTP server against another. BENCH_RAW_DIR names a folder of files 0, 1, ... to serve.
"""

from __future__ import annotations

import os
from pathlib import Path

_FOLDER = Path(os.environ.get("BENCH_RAW_DIR", "."))
_SEGMENTS = {f"/seg/{p.name}.ts": p.read_bytes() for p in _FOLDER.iterdir() if p.name.isdigit()}
_PLAYLIST = "".join(f"#EXTINF:1.000,\n{path}\n" for path in sorted(_SEGMENTS)).encode()
_HEADERS = [("Cache-Control", "no-store, private"), ("X-Content-Type-Options", "nosniff")]


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/live.m3u8":
        body, kind = b"#EXTM3U\n" + _PLAYLIST, "application/vnd.apple.mpegurl"
    elif path in _SEGMENTS:
        body, kind = _SEGMENTS[path], "video/mp2t"
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
        return [b"Not found"]
    start_response("200 OK", [("Content-Type", kind), ("Content-Length", str(len(body))), *_HEADERS])
    return [body]
