from __future__ import annotations

from django import template
from django.conf import settings

from cradle.notifications import webpush
from cradle.notifications.forms import PreferenceForm
from cradle.notifications.outbox import preference

register = template.Library()


@register.inclusion_tag("notifications/choices.html", takes_context=True)
def notification_choices(context):
    """The profile page's notification choices, with this installation's push key when it has one."""
    user = context["request"].user
    key = webpush.load_key(settings.VAPID_KEY_FILE)
    return {
        "form": PreferenceForm(instance=preference(user)),
        "push_key": webpush.public_key(key) if key else "",
        "csrf_token": context.get("csrf_token"),
    }
