from __future__ import annotations

from django import template

from cradle.notifications import outbox
from cradle.updates import service

register = template.Library()


@register.inclusion_tag("updates/timeline.html", takes_context=True)
def updates_timeline(context, admission, clips):
    """The family's timeline of care-team updates and kept clips (readable updates only; reading is audited)."""
    request = context["request"]
    outbox.remember_language(request.user, getattr(request, "LANGUAGE_CODE", ""))
    return {"items": service.timeline(request, admission, clips)}
