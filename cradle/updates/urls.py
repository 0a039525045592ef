from __future__ import annotations

from django.urls import path

from cradle.updates import views

urlpatterns = [
    path("admissions/<id:admission_id>/updates/new/", views.compose, name="compose_update"),
    path("updates/<id:update_id>/photo.jpg", views.photo, name="update_photo"),
    path("updates/<id:update_id>/draft.jpg", views.draft_photo, name="update_draft_photo"),
    path("babies/<id:admission_id>/updates/relatives/", views.relatives, name="update_relatives"),
    path("family/<id:membership_id>/updates/", views.relative_view, name="relative_view"),
]
