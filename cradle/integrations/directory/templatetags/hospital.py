"""`{% hospital_sign_in as url %}`: where the sign-in page's "sign in with the hospital" button posts, or "" when
the hospital has no OpenID Connect provider configured."""

from __future__ import annotations

from django import template
from django.urls import reverse

from cradle.integrations.directory import oidc

register = template.Library()


@register.simple_tag
def hospital_sign_in() -> str:
    return reverse("hospital_login") if oidc.config() is not None else ""
