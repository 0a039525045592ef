from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "cradle.web"
    label = "web"
