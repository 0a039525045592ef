"""The hospital's LDAP or Active Directory: finding a person, checking their password, their groups and whether
their account is disabled. Only the service account reads the directory; a person's password is used for one bind
of their own and never kept.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any

import ldap3
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars

from cradle.config import DirectorySettings


class DirectoryUnavailable(Exception):
    """The directory cannot be reached or refuses Cradle's service account; one sentence."""


@dataclass(frozen=True)
class Person:
    subject: str  # the directory's own id of the entry (entryUUID, objectGUID), or its DN when it has none
    login: str
    dn: str
    name: str
    groups: list[str] = field(default_factory=list)
    disabled: bool = False


class Ldap:
    def __init__(self, config: DirectorySettings) -> None:
        self.config = config
        url = config["LDAP_URL"]
        tls = None
        if url.startswith("ldaps://") or config["LDAP_STARTTLS"]:
            tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=config["LDAP_CA_FILE"] or None)
        self.server = ldap3.Server(url, tls=tls, connect_timeout=5, get_info=ldap3.NONE)

    def _bind(self, dn: str, password: str) -> ldap3.Connection | None:
        """A connection bound as `dn`, or None when the directory refuses the password."""
        conn = ldap3.Connection(self.server, dn, password, receive_timeout=10, raise_exceptions=False)
        try:
            conn.open()
            if self.config["LDAP_STARTTLS"] and not conn.start_tls():
                raise DirectoryUnavailable("The directory refused StartTLS.")
            if conn.bind():
                return conn
        except LDAPException as e:
            raise DirectoryUnavailable(f"The directory cannot be reached ({type(e).__name__}).") from None
        conn.unbind()
        return None

    def _service(self) -> ldap3.Connection:
        conn = self._bind(self.config["LDAP_BIND_DN"], self.config["LDAP_BIND_PASSWORD"])
        if conn is None:
            raise DirectoryUnavailable("The directory refused Cradle's service account; check CRADLE_LDAP_BIND_DN.")
        return conn

    def find(self, login: str) -> Person | None:
        """The one person the user filter finds for this login, with their groups and standing; None otherwise."""
        if not login or len(login) > 150:
            return None
        c = self.config
        conn = self._service()
        try:
            attributes = [c["LDAP_ID_ATTRIBUTE"], c["LDAP_NAME_ATTRIBUTE"], "cn"]
            if not c["LDAP_GROUP_BASE"]:
                attributes.append("memberOf")
            query = c["LDAP_USER_FILTER"].replace("{login}", escape_filter_chars(login))
            conn.search(c["LDAP_USER_BASE"], query, ldap3.SUBTREE, attributes=attributes, size_limit=2)
            entries = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
            if len(entries) != 1:
                return None
            entry = entries[0]
            dn, found = entry["dn"], entry["attributes"]
            subject = _first(found.get(c["LDAP_ID_ATTRIBUTE"])) or dn
            name = _first(found.get(c["LDAP_NAME_ATTRIBUTE"])) or _first(found.get("cn")) or login
            if c["LDAP_GROUP_BASE"]:
                group_filter = c["LDAP_GROUP_FILTER"].replace("{dn}", escape_filter_chars(dn))
                conn.search(c["LDAP_GROUP_BASE"], group_filter, ldap3.SUBTREE, attributes=["cn"])
                groups = [e["dn"] for e in conn.response or [] if e.get("type") == "searchResEntry"]
            else:
                groups = [str(g) for g in found.get("memberOf") or []]
            disabled = False
            if c["LDAP_DISABLED_FILTER"]:
                conn.search(dn, c["LDAP_DISABLED_FILTER"], ldap3.BASE, attributes=["1.1"])
                disabled = any(e.get("type") == "searchResEntry" for e in conn.response or [])
            return Person(str(subject), login, dn, str(name)[:60], groups, disabled)
        except LDAPException as e:
            raise DirectoryUnavailable(f"The directory could not be searched ({type(e).__name__}).") from None
        finally:
            conn.unbind()

    def authenticate(self, login: str, password: str) -> Person | None:
        """The person, if the directory accepts this password for them (a disabled one comes back marked so)."""
        if not password:
            return None  # an empty password is an anonymous bind, which "succeeds": never a sign-in
        person = self.find(login)
        if person is None:
            return None
        conn = self._bind(person.dn, password)
        if conn is None:
            return None
        conn.unbind()
        return person


def _first(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return value[0] if value else None
    return value
