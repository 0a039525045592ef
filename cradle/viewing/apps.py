from django.apps import AppConfig


class ViewingConfig(AppConfig):
    name = "cradle.viewing"
    label = "viewing"

    def ready(self) -> None:
        from cradle.viewing.grants import GrantCache

        # The fast path's grants (cradle.viewing.fastpath): one cache per process, shared by its threads.
        self.grants = GrantCache()
