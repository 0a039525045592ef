from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "cradle.notifications"
    label = "notifications"
