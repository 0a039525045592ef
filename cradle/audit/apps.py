from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "cradle.audit"
    label = "audit"

    def ready(self) -> None:
        from cradle.audit import creation, guard

        guard.install()
        creation.install()
