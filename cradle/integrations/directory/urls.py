"""The hospital's OpenID Connect sign-in (under /accounts/). To register at the provider: the redirect URI
`https://CRADLE-HOST/accounts/hospital/login/callback/` and the back-channel logout URI
`https://CRADLE-HOST/accounts/hospital/logout/backchannel/`."""

from __future__ import annotations

from django.urls import path

from cradle.integrations.directory import views

urlpatterns = [
    path("hospital/login/", views.hospital_login, name="hospital_login"),
    path("hospital/login/callback/", views.hospital_callback, name="hospital_callback"),
    path("hospital/reauthenticate/", views.hospital_reauthenticate, name="hospital_reauthenticate"),
    path("hospital/logout/backchannel/", views.hospital_backchannel_logout, name="hospital_backchannel_logout"),
]
