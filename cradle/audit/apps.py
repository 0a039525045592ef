from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "cradle.audit"
    label = "audit"
