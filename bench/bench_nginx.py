"""Debian's nginx on loopback for the benchmarks, running deploy/nginx/cradle.conf as a hospital would.

The production file is rendered for plain HTTP on a free port (the simulated viewers speak HTTP/1.1 without TLS, and
TLS would cost both sides of each comparison alike), with the app's address, the edge folder, temporary logs, and an
extra location that serves the same segment bytes as static files: the baseline the app is compared with.
"""

from __future__ import annotations

import getpass
import grp
import os
import re
import shutil
import subprocess
from pathlib import Path

from bench_ward import ROOT, Installation, free_port, wait_for

CONFIG = ROOT / "deploy" / "nginx" / "cradle.conf"


def render(app_port: int, port: int, edge_dir: Path, static_dir: Path, folder: Path) -> str:
    text = CONFIG.read_text()
    for production, here in (
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{app_port};"),
        ("listen 80;\n    listen [::]:80;", f"listen 127.0.0.1:{free_port()};"),
        ("listen 443 ssl http2;\n    listen [::]:443 ssl http2;", f"listen 127.0.0.1:{port} backlog=4096;"),
        ("/run/cradle/edge/", f"{edge_dir}/"),
        ("/var/log/nginx/cradle.access.log", str(folder / "access.log")),
    ):
        if production not in text:
            raise SystemExit(f"{CONFIG} no longer holds {production!r}; update bench/bench_nginx.py.")
        text = text.replace(production, here)
    text = re.sub(r"\n\s*ssl_[a-z_]+ [^\n]*;", "", text)
    # The baseline: the same bytes, from files, with the same headers as the edge location.
    baseline = f"""    location /static-bench/ {{
        alias {static_dir}/;
        types {{ }}
        default_type video/mp2t;
        etag off;
        if_modified_since off;
        add_header Cache-Control "no-store, private" always;
        add_header X-Content-Type-Options "nosniff" always;
    }}

    location / {{"""
    return text.replace("    location / {", baseline, 1)


def start(inst: Installation, app_port: int, edge_dir: Path, static_dir: Path, workers: int = 1):
    """nginx in front of the app on a free port; gives (process, port). Stopped with the installation."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        raise SystemExit("nginx is not installed; run `make setup` (deploy/debian-packages.txt lists it).")
    folder = inst.dir / "nginx"
    folder.mkdir()
    port = free_port()
    (folder / "cradle.conf").write_text(render(app_port, port, edge_dir, static_dir, folder))
    # As root, workers would drop to `nobody`, which cannot read the installation's private folders.
    user = f"user {getpass.getuser()} {grp.getgrgid(os.getegid()).gr_name};" if os.geteuid() == 0 else ""
    temps = " ".join(f"{k}_temp_path {folder / k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (folder / "nginx.conf").write_text(
        f"""{user}
worker_processes {workers};
worker_rlimit_nofile 8192;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} warn;
events {{ worker_connections 4096; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    {temps}
    include {folder / "cradle.conf"};
}}
"""
    )
    command = [binary, "-p", str(folder), "-e", str(folder / "error.log"), "-c", str(folder / "nginx.conf")]
    server = subprocess.Popen(
        [*command, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    inst._servers.append(server)
    wait_for(port, server)
    return server, port
