"""A throw-away OpenLDAP server (Debian's slapd) on loopback: a hospital directory with people and groups."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

SUFFIX = "dc=hospital,dc=test"
ADMIN_DN = f"cn=admin,{SUFFIX}"
ADMIN_PASSWORD = "directory admin secret"
SERVICE_DN = f"cn=cradle,ou=services,{SUFFIX}"
SERVICE_PASSWORD = "cradle service secret"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
PASSWORD = "nurse directory passphrase"

CONFIG = """
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
pidfile {folder}/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
suffix "{suffix}"
rootdn "{admin}"
rootpw "{admin_password}"
directory {folder}/data
maxsize 16777216
access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read
"""


def _entries() -> list[tuple[str, dict]]:
    person = ["top", "person", "organizationalPerson", "inetOrgPerson"]
    people = [
        ("amina", "Amina Osei", "active"),
        ("jo", "Jo Privacy", "active"),
        ("sam", "Sam Admin", "active"),
        ("wei", "Wei Liu", "active"),
        ("gone", "Left Hospital", "disabled"),
        ("porter", "Pat Porter", "active"),  # in no Cradle group
    ]
    entries = [
        (SUFFIX, {"objectClass": ["top", "dcObject", "organization"], "o": "Hospital", "dc": "hospital"}),
        (PEOPLE, {"objectClass": ["organizationalUnit"], "ou": "people"}),
        (GROUPS, {"objectClass": ["organizationalUnit"], "ou": "groups"}),
        (f"ou=services,{SUFFIX}", {"objectClass": ["organizationalUnit"], "ou": "services"}),
        (SERVICE_DN, {"objectClass": person, "cn": "cradle", "sn": "service", "userPassword": SERVICE_PASSWORD}),
    ]
    for uid, name, state in people:
        entries.append(
            (
                f"uid={uid},{PEOPLE}",
                {
                    "objectClass": person,
                    "uid": uid,
                    "cn": name,
                    "sn": name.split()[-1],
                    "displayName": name,
                    "employeeType": state,
                    "userPassword": PASSWORD,
                },
            )
        )
    groups = {
        "nicu-nurses": ["amina", "gone"],
        "scn-nurses": ["wei", "amina"],
        "nicu-privacy": ["jo"],
        "nicu-admins": ["sam"],
        "canteen": ["porter"],
    }
    for group, members in groups.items():
        entries.append(
            (
                f"cn={group},{GROUPS}",
                {"objectClass": ["groupOfNames"], "cn": group, "member": [f"uid={m},{PEOPLE}" for m in members]},
            )
        )
    return entries


@dataclass
class Slapd:
    url: str
    process: subprocess.Popen

    def admin(self):
        """An ldap3 connection as the directory's administrator, to change people as the hospital's IT would."""
        import ldap3

        return ldap3.Connection(ldap3.Server(self.url), ADMIN_DN, ADMIN_PASSWORD, auto_bind=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(folder: Path) -> Slapd:
    binary = shutil.which("slapd") or "/usr/sbin/slapd"
    if not Path(binary).exists():
        pytest.fail("Debian's slapd is not installed (deploy/debian-packages.txt lists it; run `make setup`).")
    (folder / "data").mkdir(parents=True)
    conf = folder / "slapd.conf"
    conf.write_text(CONFIG.format(folder=folder, suffix=SUFFIX, admin=ADMIN_DN, admin_password=ADMIN_PASSWORD))
    port = _free_port()
    url = f"ldap://127.0.0.1:{port}"
    process = subprocess.Popen(
        [binary, "-d", "0", "-f", str(conf), "-h", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"slapd did not start: {process.stderr.read().decode()[-500:]}") from None
            time.sleep(0.1)
    server = Slapd(url, process)
    admin = server.admin()
    for dn, attributes in _entries():
        attributes = dict(attributes)
        classes = attributes.pop("objectClass")
        assert admin.add(dn, classes, attributes), admin.result
    admin.unbind()
    return server


def stop(server: Slapd) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
