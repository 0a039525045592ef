"""deploy/nginx/cradle.conf in front of the app, with Debian's nginx on loopback.

The production file is rendered for the test (loopback ports, a fresh self-signed certificate, temporary folders)
and run unprivileged-style under a temporary prefix, in front of a live server of the app in edge mode. It proves the
edge path end to end: the parent's segment comes from nginx's internal location, encrypted, and opens with the key
from the key address to the variant the app chose; everyone else, the internal location itself and an expired address
get 404. Without nginx the test is skipped, except in CI, where that fails it.
"""

from __future__ import annotations

import contextlib
import datetime
import grp
import http.client
import ipaddress
import os
import pwd
import re
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.test import Client
from django.urls import reverse

from cradle.accounts.models import DeviceSession
from cradle.audit.models import Event
from cradle.viewing import delivery, edge, variants
from cradle.viewing.models import LiveSegment, ServedVariant
from tests.conftest import sign_in
from tests.test_edge import KEY_LINE
from tests.test_viewing import stored

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "deploy" / "nginx" / "cradle.conf"


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found:
        return found
    reason = "nginx not found; run `make setup` (deploy/debian-packages.txt lists it) to run the web edge test."
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the nginx test, but {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, as the hospital's would be for its host name."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "fullchain.pem", folder / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def render(
    app: str, port: int, http_port: int, folder: Path, edge_dir: Path, static_dir: Path, tls: bool = True
) -> str:
    """deploy/nginx/cradle.conf with its CHANGE values (and the listening ports) set for this machine; without `tls`
    the main server speaks plain HTTP (a browser trusts http://127.0.0.1 as a secure context, not a test
    certificate)."""
    text = CONFIG.read_text()
    listen = f"listen 127.0.0.1:{port} ssl http2;" if tls else f"listen 127.0.0.1:{port};"
    cert, key = certificate(folder) if tls else (folder / "none", folder / "none")
    for production, here in (
        ("server 127.0.0.1:8000;", f"server {app};"),
        ("listen 80;\n    listen [::]:80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl http2;\n    listen [::]:443 ssl http2;", listen),
        ("/etc/cradle/tls/fullchain.pem", str(cert)),
        ("/etc/cradle/tls/privkey.pem", str(key)),
        ("/run/cradle/edge/", f"{edge_dir}/"),
        ("/var/lib/cradle/static/", f"{static_dir}/"),
        ("/var/log/nginx/cradle.access.log", str(folder / "access.log")),
    ):
        assert production in text, f"{production!r} is no longer in {CONFIG}; update this test's rendering"
        text = text.replace(production, here)
    if not tls:
        text = re.sub(r"\n\s*ssl_[a-z_]+ [^\n]*;", "", text)
    return text


@dataclass
class Edge:
    port: int
    http_port: int
    context: ssl.SSLContext | None  # None: plain HTTP
    edge_dir: Path
    folder: Path

    @property
    def url(self) -> str:
        return f"{'https' if self.context else 'http'}://127.0.0.1:{self.port}"

    def get(self, path: str, cookie: str | None = None) -> tuple[int, dict[str, str], bytes]:
        if self.context is None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        else:
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context, timeout=30)
        headers = {"Cookie": f"cradle_session={cookie}"} if cookie else {}
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()


@contextlib.contextmanager
def running_nginx(app: str, folder: Path, edge_dir: Path, static_dir: Path, tls: bool = True) -> Iterator[Edge]:
    """Debian's nginx with the rendered configuration under a temporary prefix, in front of the app at `app`."""
    binary = nginx_binary()
    folder.mkdir(parents=True, exist_ok=True)
    port, http_port = free_port(), free_port()
    (folder / "cradle.conf").write_text(render(app, port, http_port, folder, edge_dir, static_dir, tls))
    # As root (a CI container), workers would drop to `nobody`, which cannot read the test's private folders.
    user = ""
    if os.geteuid() == 0:
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name};"
    temps = " ".join(
        f"{kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (folder / "nginx.conf").write_text(
        f"""{user}
worker_processes 1;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} warn;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    {temps}
    include {folder / "cradle.conf"};
}}
"""
    )
    command = [binary, "-p", str(folder), "-e", str(folder / "error.log"), "-c", str(folder / "nginx.conf")]
    check = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert check.returncode == 0, f"nginx refused the rendered configuration:\n{check.stderr}"
    server = subprocess.Popen([*command, "-g", "daemon off;"], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            assert server.poll() is None, f"nginx stopped: {server.stderr.read().decode()}"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "nginx did not answer within 20 s"
                time.sleep(0.1)
        context = ssl.create_default_context(cafile=str(folder / "fullchain.pem")) if tls else None
        yield Edge(port, http_port, context, edge_dir, folder)
    finally:
        server.terminate()
        server.wait(timeout=20)


@pytest.fixture
def nginx(live_server, settings, tmp_path) -> Iterator[Edge]:
    edge_dir, static_dir = tmp_path / "edge", tmp_path / "static"
    for path in (edge_dir, static_dir):
        path.mkdir()
    (static_dir / "probe.txt").write_text("static ok")
    settings.EDGE_DIR = edge_dir
    settings.EDGE_LOCATION = "/_edge/"
    with running_nginx(live_server.url.removeprefix("http://"), tmp_path / "nginx", edge_dir, static_dir) as edge:
        yield edge


def session_cookie(user) -> tuple[str, DeviceSession]:
    client = Client()
    sign_in(client, user)
    key = client.session.session_key
    return key, DeviceSession.objects.get(session_key=key)


def test_nginx_sends_the_parents_segment_after_the_app_has_said_yes(world, nginx):
    fam = world.families["a"]
    stored(fam)
    cookie, device = session_cookie(fam.parent)
    status, headers, body = nginx.get(reverse("live_playlist", args=[fam.admission.pk]), cookie)
    assert status == 200 and headers["cache-control"].startswith("no-store")
    lines = body.decode().splitlines()
    key_line = next(KEY_LINE.fullmatch(line) for line in lines if line.startswith("#EXT-X-KEY"))
    url = next(line for line in lines if line.startswith("/v/"))

    status, headers, copy = nginx.get(url, cookie)
    assert status == 200 and copy
    assert headers["content-type"] == "video/mp2t"
    assert headers["cache-control"] == "no-store, private" and headers["x-content-type-options"] == "nosniff"
    assert "x-accel-redirect" not in headers
    status, _headers, key = nginx.get(key_line["uri"], cookie)
    assert status == 200 and len(key) == 16
    variant, camera, index = edge.decrypt(key, bytes.fromhex(key_line["iv"]), copy).decode().split(":")
    served = ServedVariant.objects.get(user=fam.parent, camera_id=int(camera), index=int(index))
    assert variant == variants.letters(served.variant)
    # The bytes nginx sent are the copy on the edge's disk: ciphertext, not the segment.
    assert copy in {p.read_bytes() for p in nginx.edge_dir.rglob("*.ts")} and not copy.startswith(b"A:")
    assert Event.objects.filter(action="live.segment", outcome="ok", actor_id=fam.parent.pk).count() == 1
    assert Event.objects.filter(action="live.key", outcome="ok", actor_id=fam.parent.pk, session=device.public_id)


def test_another_family_a_stranger_and_an_expired_address_get_404_through_nginx(world, nginx, settings):
    fam = world.families["a"]
    stored(fam)
    cookie, device = session_cookie(fam.parent)
    other, _ = session_cookie(world.families["b"].parent)
    body = nginx.get(reverse("live_playlist", args=[fam.admission.pk]), cookie)[2].decode()
    url = next(line for line in body.splitlines() if line.startswith("/v/"))
    key_uri = KEY_LINE.search(body)["uri"]
    for path in (url, key_uri):
        assert nginx.get(path, other)[0] == 404
        assert nginx.get(path)[0] == 404
    row = LiveSegment.objects.filter(admission=fam.admission, in_clip=False).first()
    expired = delivery.segment_url(device, row, -1)
    assert nginx.get(expired, cookie)[0] == 404
    assert not list(nginx.edge_dir.rglob("*.ts"))  # nothing was published for any of them
    reasons = set(
        Event.objects.filter(action="live.segment", outcome="denied").values_list("detail__reason", flat=True)
    )
    assert {"another or ended session", "expired"} <= reasons


def test_the_internal_location_cannot_be_reached_directly(world, nginx):
    fam = world.families["a"]
    stored(fam)
    cookie, _device = session_cookie(fam.parent)
    body = nginx.get(reverse("live_playlist", args=[fam.admission.pk]), cookie)[2].decode()
    url = next(line for line in body.splitlines() if line.startswith("/v/"))
    assert nginx.get(url, cookie)[0] == 200
    (copy,) = nginx.edge_dir.rglob("*.ts")
    direct = "/_edge/" + copy.relative_to(nginx.edge_dir).as_posix()
    assert nginx.get(direct, cookie)[0] == 404
    assert nginx.get(direct)[0] == 404
    assert nginx.get("/_edge/")[0] == 404


def test_nginx_serves_static_files_and_sends_plain_http_to_https(world, nginx):
    status, headers, body = nginx.get("/static/probe.txt")
    assert status == 200 and body == b"static ok" and headers["x-content-type-options"] == "nosniff"
    conn = http.client.HTTPConnection("127.0.0.1", nginx.http_port, timeout=10)
    conn.request("GET", "/healthz")
    response = conn.getresponse()
    assert response.status == 301 and response.getheader("Location").startswith("https://")
    conn.close()
    # The app's own answers come through with the app's security headers.
    status, headers, _body = nginx.get("/healthz")
    assert status == 200 and "frame-ancestors 'none'" in headers["content-security-policy"]
