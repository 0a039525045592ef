from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import AppConfig

if TYPE_CHECKING:
    from cradle.viewing.grants import GrantCache


class ViewingConfig(AppConfig):
    name = "cradle.viewing"
    label = "viewing"
    grants: GrantCache

    def ready(self) -> None:
        from cradle.viewing.grants import GrantCache

        # The fast path's grants (cradle.viewing.fastpath): one cache per process, shared by its threads.
        self.grants = GrantCache()
