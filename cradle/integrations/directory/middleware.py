"""A person the directory has disabled, removed or taken out of every Cradle group is refused at their next request
(or within CRADLE_DIRECTORY_RECHECK_SECONDS, when the hospital prefers fewer look-ups); their roles follow their
groups at every check."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from cradle.accounts.models import User
from cradle.integrations.directory import accounts, backend, oidc, roles
from cradle.integrations.directory.ldap import DirectoryUnavailable
from cradle.integrations.directory.models import DirectoryIdentity


class DirectoryStandingMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated:
            identity = DirectoryIdentity.objects.filter(user_id=user.pk).first()
            if identity is not None and identity.source == backend.SOURCE:
                if (refused := self._check(request, user, identity)) is not None:
                    return refused
            elif identity is not None and not self._provider_vouches(identity):
                # The hospital's OpenID Connect provider was switched off or replaced: its accounts cannot be vouched
                # for any more. (Their standing is otherwise checked at each sign-in, and the provider ends their
                # sessions through back-channel logout: cradle.integrations.directory.signin.)
                logout(request)
                return redirect("account_login")
        return self.get_response(request)

    @staticmethod
    def _provider_vouches(identity: DirectoryIdentity) -> bool:
        cfg = oidc.config()
        return cfg is not None and identity.issuer == cfg.issuer

    def _check(self, request: HttpRequest, user: User, identity: DirectoryIdentity) -> HttpResponse | None:
        ldap = backend.directory()
        if ldap is None:
            # The directory was switched off: its accounts cannot be vouched for any more.
            logout(request)
            return redirect("account_login")
        every = timedelta(seconds=settings.DIRECTORY["RECHECK_SECONDS"])
        now = timezone.now()
        if every and now - identity.checked_at < every:
            return None
        try:
            person = ldap.find(identity.login)
        except DirectoryUnavailable:
            # Neither let in nor signed out: the page says to try again, and the next request asks again.
            return render(request, "directory/unavailable.html", status=503)
        if person is not None and person.subject != identity.subject:
            person = None  # the login now names someone else
        why = backend.refusal(person)
        if why is not None or person is None:  # (a person not found is refused: "not_found")
            accounts.close(user, backend.SOURCE, why or "not_found", request=request)
            logout(request)
            messages.error(request, _("Your hospital account no longer gives access to Cradle."))
            return redirect("account_login")
        roles.sync(user, roles.roles_for(person.groups), via=f"directory:{backend.SOURCE}")
        DirectoryIdentity.objects.filter(pk=identity.pk).update(checked_at=now)
        return None
