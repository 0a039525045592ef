"""Signing staff in with their directory password (LDAP / Active Directory), as a Django authentication backend
beside allauth's: the sign-in page, the second step and re-authentication stay Cradle's own."""

from __future__ import annotations

import logging
from functools import cache

from django.conf import settings
from django.contrib.auth.backends import BaseBackend
from django.http import HttpRequest

from cradle.accounts.models import User
from cradle.audit.actions import Action
from cradle.audit.log import record
from cradle.integrations.directory import accounts, roles
from cradle.integrations.directory.ldap import DirectoryUnavailable, Ldap, Person
from cradle.integrations.directory.models import DirectoryIdentity

log = logging.getLogger(__name__)
SOURCE = DirectoryIdentity.Source.LDAP


@cache
def directory() -> Ldap | None:
    return Ldap(settings.DIRECTORY) if settings.DIRECTORY["LDAP_URL"] else None


def refusal(person: Person | None) -> str | None:
    """Why the directory's answer lets this person not in, or None when it does."""
    if person is None:
        return "not_found"
    if person.disabled:
        return "disabled"
    if not roles.roles_for(person.groups):
        return "no_role"
    return None


class DirectoryBackend(BaseBackend):
    def authenticate(self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kw):
        ldap = directory()
        if ldap is None or not username or not password:
            return None
        login = username.strip()
        # Re-authentication asks with the Cradle username (login@ldap): sign in as the person it belongs to.
        identity = DirectoryIdentity.objects.filter(user__username=login.lower(), source=SOURCE).first()
        if identity is not None:
            login = identity.login
        elif "@" in login:
            return None
        try:
            person = ldap.authenticate(login, password)
        except DirectoryUnavailable as e:
            log.warning("directory sign-in not possible: %s", e)
            return None
        if person is None:
            return None  # a wrong password: allauth counts and audits the failure
        user = accounts.account_for(SOURCE, person.subject, person.login, person.name, request=request)
        if (why := refusal(person)) is not None:
            accounts.close(user, SOURCE, why, request=request)
            record(request, Action.DIRECTORY_SIGN_IN_REFUSED, outcome="denied", actor=user, source=SOURCE, reason=why)
            return None
        roles.sync(user, roles.roles_for(person.groups), via=f"directory:{SOURCE}")
        return user

    def get_user(self, user_id: int) -> User | None:
        return User.objects.filter(pk=user_id, is_active=True).first()
