"""How allauth behaves in Cradle: no open sign-up, throttled passwords, MFA that staff cannot remove."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from django.http import HttpRequest

from cradle.accounts import secretbox, throttle
from cradle.accounts.models import User
from cradle.audit.actions import Action
from cradle.audit.log import record


class CradleAccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Accounts come only from invitations.
        return False

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        username = credentials.get("username") or ""
        if not throttle.allowed(request, username):
            record(request, Action.ACCOUNT_LOGIN_THROTTLED, outcome="denied", actor=_known(username))
            raise self.validation_error("too_many_login_attempts")

    def authentication_failed(self, request: HttpRequest, **credentials: Any) -> None:
        username = credentials.get("username") or ""
        throttle.failed(request, username)
        record(request, Action.ACCOUNT_LOGIN_FAILED, outcome="failed", actor=_known(username))

    def get_login_stages(self) -> list[str]:
        # The second step, skipped for a sign-in that proved a second factor itself (cradle.accounts.stages).
        return [
            "cradle.accounts.stages.SecondStepStage" if stage == "allauth.mfa.stages.AuthenticateStage" else stage
            for stage in super().get_login_stages()
        ]

    def get_reauthentication_methods(self, user: Any) -> list[dict]:
        # People whose account is the hospital provider's confirm there too (the only way for those who have no
        # password and no second factor of Cradle's: their provider vouched for the second step).
        from cradle.integrations.directory import signin

        methods = super().get_reauthentication_methods(user)
        hospital = signin.reauthentication_method(user)
        return [*methods, hospital] if hospital else methods


class CradleMFAAdapter(DefaultMFAAdapter):
    # TOTP secrets are sealed with a key derived from the site's secret key, so that a copy of the database alone
    # does not yield anyone's second factor.
    def encrypt(self, text: str) -> str:
        return secretbox.seal(text, purpose="mfa")

    def decrypt(self, encrypted_text: str) -> str:
        return secretbox.unseal(encrypted_text, purpose="mfa")

    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        from cradle.scope import is_staff

        if authenticator.type == Authenticator.Type.RECOVERY_CODES or not is_staff(authenticator.user):
            return True
        # Staff must keep a second factor: the last TOTP or passkey cannot be removed.
        others = Authenticator.objects.filter(
            user=authenticator.user, type__in=[Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]
        ).exclude(pk=authenticator.pk)
        return others.exists()


def _known(username: str) -> User | None:
    return User.objects.filter(username=username.strip().lower()).first() if username else None
