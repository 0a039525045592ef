"""Light or dark colours, as the device asks (prefers-color-scheme) unless the person chose one for this browser."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

COOKIE = "cradle_theme"
CHOICES = ("auto", "light", "dark")


def chosen(request: HttpRequest) -> str:
    value = request.COOKIES.get(COOKIE, "auto")
    return value if value in CHOICES else "auto"


@require_POST
def set_theme(request: HttpRequest) -> HttpResponse:
    """Keeps the choice in a cookie of this browser (it says nothing about anyone) and goes back to the page."""
    target = request.POST.get("next", "/")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        target = "/"
    response = HttpResponseRedirect(target)
    choice = request.POST.get("theme", "auto")
    if choice in ("light", "dark"):
        response.set_cookie(COOKIE, choice, max_age=365 * 24 * 3600, samesite="Lax", secure=request.is_secure())
    else:
        response.delete_cookie(COOKIE, samesite="Lax")
    return response
