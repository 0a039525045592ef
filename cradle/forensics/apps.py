from django.apps import AppConfig


class ForensicsConfig(AppConfig):
    name = "cradle.forensics"
    label = "forensics"
