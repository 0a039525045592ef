"""allauth's second sign-in step, as Cradle runs it."""

from __future__ import annotations

from allauth.mfa.stages import AuthenticateStage
from django.http import HttpRequest

from cradle.accounts import second_step


class SecondStepStage(AuthenticateStage):
    """Asks for the second step, unless this sign-in already proved a second factor (the hospital's provider said so
    in its ID token: cradle.integrations.directory.signin puts it in the login's state)."""

    def _should_handle(self, request: HttpRequest) -> bool:
        if self.login.state.get(second_step.VOUCHED):
            return False
        return super()._should_handle(request)
