"""The hospital's OpenID Connect sign-in (under /accounts/). The redirect URI to register at the provider is
`https://CRADLE-HOST/accounts/hospital/login/callback/`."""

from __future__ import annotations

from django.urls import path

from cradle.integrations.directory import views

urlpatterns = [
    path("hospital/login/", views.hospital_login, name="hospital_login"),
    path("hospital/login/callback/", views.hospital_callback, name="hospital_callback"),
    path("hospital/reauthenticate/", views.hospital_reauthenticate, name="hospital_reauthenticate"),
]
