from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "cradle.accounts"
    label = "accounts"

    def ready(self) -> None:
        from cradle.accounts import signals  # noqa: F401
