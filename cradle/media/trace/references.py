"""Reference frames of a source, segment by segment, as the tracing stages load them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

ReferenceLoader = Callable[[str, int], Sequence[np.ndarray]]


class References:
    """Reference frames per segment, loaded once (the loader may decrypt and decode)."""

    def __init__(self, loader: ReferenceLoader, source_id: str) -> None:
        self._loader, self._source = loader, source_id
        self._cache: dict[int, list[np.ndarray]] = {}

    def __call__(self, index: int) -> list[np.ndarray]:
        if index < 0:
            return []
        if index not in self._cache:
            try:
                frames = list(self._loader(self._source, index) or [])
            except LookupError:
                frames = []
            self._cache[index] = frames
        return self._cache[index]
