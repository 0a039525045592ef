from django.apps import AppConfig


class ViewingConfig(AppConfig):
    name = "cradle.viewing"
    label = "viewing"
