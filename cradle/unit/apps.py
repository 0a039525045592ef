from django.apps import AppConfig


class UnitConfig(AppConfig):
    name = "cradle.unit"
    label = "unit"
