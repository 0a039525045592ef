"""Records refused look-ups: a signed-in person asking for something outside their scope."""

from __future__ import annotations

from collections.abc import Callable

from django.http import Http404, HttpRequest, HttpResponse

from cradle.audit.actions import Action
from cradle.audit.log import record


class DeniedAccessMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        if isinstance(exception, Http404) and request.user.is_authenticated:
            record(request, Action.ACCESS_DENIED, outcome="denied", path=request.path[:200])
