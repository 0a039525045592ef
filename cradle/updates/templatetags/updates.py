from __future__ import annotations

from django import template

from cradle.updates import service

register = template.Library()


@register.inclusion_tag("updates/timeline.html", takes_context=True)
def updates_timeline(context, admission, clips):
    """The family's timeline of care-team updates and kept clips (readable updates only; reading is audited)."""
    return {"items": service.timeline(context["request"], admission, clips)}
