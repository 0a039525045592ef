from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _after_migrate(sender, verbosity: int = 1, stdout=None, **kwargs) -> None:
    from cradle.audit import keying

    keying.after_migrate(verbosity=verbosity, stdout=stdout)


class AuditConfig(AppConfig):
    name = "cradle.audit"
    label = "audit"

    def ready(self) -> None:
        from cradle.audit import creation, guard

        guard.install()
        creation.install()
        # A new installation gets its anchor, and a log written before links were keyed is keyed from here on.
        post_migrate.connect(_after_migrate, sender=self, dispatch_uid="cradle.audit.anchor")
