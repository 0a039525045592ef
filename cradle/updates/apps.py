from django.apps import AppConfig


class UpdatesConfig(AppConfig):
    name = "cradle.updates"
    label = "updates"
