"""Keeping personal data out of caches and logs that more people read than the page or the mail itself."""

from __future__ import annotations

import copy
from collections.abc import Callable

from django.core.mail.backends import console
from django.core.mail.message import EmailMessage
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control

from cradle.accounts.contact import mask_email


class NoStoreMiddleware:
    """Every answer Cradle makes itself is `Cache-Control: no-store, private` unless its view chose otherwise: pages
    and API answers name babies, family members and devices, and neither a shared proxy nor the browser's disk cache
    of a shared family computer may keep them. Static files, which carry their own caching, are left as they are."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            patch_cache_control(response, no_store=True, private=True)
        return response


class MaskedConsoleBackend(console.EmailBackend):
    """Django's console backend (the default until the hospital names its mail server) with each recipient masked:
    the log is read by more people than the mail is."""

    def write_message(self, message: EmailMessage) -> None:
        shown = copy.copy(message)
        for field in ("to", "cc", "bcc", "reply_to"):
            setattr(shown, field, [_mask(a) for a in getattr(message, field, [])])
        shown.extra_headers = {k: v for k, v in message.extra_headers.items() if k.lower() not in {"to", "cc"}}
        super().write_message(shown)


def _mask(address: str) -> str:
    """ "m***@e***.org" (ASCII, so that the header stays readable in the log)."""
    name, _, bracketed = address.rpartition("<")
    if bracketed.endswith(">"):
        return f"{name}<{_mask(bracketed[:-1])}>"
    return (mask_email(address) or "•••").replace("•", "*")
