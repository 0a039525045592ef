from __future__ import annotations

from django.urls import path

from cradle.notifications import views

urlpatterns = [
    path("me/notifications/", views.choices, name="notification_choices"),
    path("me/push/", views.subscribe, name="push_subscribe"),
]
