"""Re-authentication before sensitive actions (break-glass, unit settings, the feed's bed table), for everyone.

allauth's decorator lets through, without asking, a person who has neither a password nor a second factor of
Cradle's, since it has nothing of Cradle's to ask them. In Cradle that is a member of staff whose hospital provider
vouched for their second factor (cradle.accounts.second_step.vouched): they confirm at the provider instead, with a
fresh sign-in there (cradle.integrations.directory.signin), and this decorator makes sure they are asked.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from allauth.account import app_settings
from allauth.account.decorators import reauthentication_required as allauth_reauthentication_required
from allauth.account.internal.flows.login import get_authentication_records
from allauth.account.internal.flows.reauthentication import get_reauthentication_flows
from allauth.core.exceptions import ReauthenticationRequired
from django.http import HttpRequest, HttpResponse


def recently_reauthenticated(request: HttpRequest) -> bool:
    """Whether this session confirmed its person within the re-authentication timeout, by whatever means."""
    records = [r for r in get_authentication_records(request, request.user) if r.get("reauthenticated")]
    return bool(records) and time.time() - records[-1]["at"] < app_settings.REAUTHENTICATION_TIMEOUT


def reauthentication_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    checked = allauth_reauthentication_required(view)

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if user.is_authenticated and not get_reauthentication_flows(user) and not recently_reauthenticated(request):
            raise ReauthenticationRequired()
        return checked(request, *args, **kwargs)

    return wrapper
