"""Directory groups to Cradle roles, unit by unit: a file the hospital's IT writes, read once and checked.

    [[role]]
    group = "cn=nicu-nurses,ou=groups,dc=hospital,dc=example"   # an LDAP group's DN, or an OpenID Connect group
    unit = "nicu"                                                # the unit's code in Cradle
    role = "nurse"                                               # nurse, privacy_officer or administrator

A person's staff roles are exactly those their groups give: added at sign-in and at every check, removed when the
group membership goes. Every change is audited (cradle.audit.creation).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.conf import settings
from django.db import transaction

from cradle.audit.creation import acting
from cradle.unit.models import StaffMembership, Unit

ROLES = {choice.value for choice in StaffMembership.Role}


class RolesError(ValueError):
    """The role file is wrong; one sentence naming the file and the entry."""


@dataclass(frozen=True)
class Grant:
    group: str
    unit: str
    role: str


def normalise(group: str) -> str:
    """Group names compare without case and without spaces around the parts of a DN."""
    return ",".join("=".join(p.strip() for p in part.split("=", 1)) for part in group.split(",")).casefold()


def parse(text: str, where: str = "the role file") -> tuple[Grant, ...]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise RolesError(f"{where} is not valid TOML ({e}).") from None
    grants = []
    for number, entry in enumerate(data.get("role", []), start=1):
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in ("group", "unit", "role")):
            raise RolesError(f"Entry {number} of {where} needs a group, a unit and a role.")
        if entry["role"] not in ROLES:
            raise RolesError(f"Entry {number} of {where} names the role {entry['role']!r}; use one of {sorted(ROLES)}.")
        grants.append(Grant(normalise(entry["group"]), entry["unit"], entry["role"]))
    return tuple(grants)


@cache
def _from_file(path: str) -> tuple[Grant, ...]:
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise RolesError(f"The directory role file {path} cannot be read ({e.strerror}).") from None
    return parse(text, path)


def grants() -> tuple[Grant, ...]:
    path = settings.DIRECTORY["ROLES_FILE"]
    return _from_file(str(path)) if path else ()


def roles_for(groups: list[str]) -> set[tuple[str, str]]:
    """The (unit code, role) pairs these groups give."""
    mine = {normalise(g) for g in groups}
    return {(g.unit, g.role) for g in grants() if g.group in mine}


def sync(user, pairs: set[tuple[str, str]], via: str) -> None:
    """Makes the user's staff roles exactly `pairs` (units that do not exist are skipped)."""
    units = dict(Unit.objects.filter(code__in={unit for unit, _ in pairs}).values_list("code", "pk"))
    wanted = {(units[unit], role) for unit, role in pairs if unit in units}
    with transaction.atomic(), acting(via, actor=user):
        current = {(m.unit_id, m.role): m for m in StaffMembership.objects.filter(user=user)}
        for key in set(current) - wanted:
            current[key].delete()
        for unit_id, role in wanted - set(current):
            StaffMembership.objects.create(user=user, unit_id=unit_id, role=role)
