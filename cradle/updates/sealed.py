"""An update's words and photo, sealed in the segment store under the admission's key like every segment.

Each update is a "camera" of its own in the admission's media space (`update-<id>`), as keepsakes are: shredding the
admission destroys them with its video, and retention's proof that expired media is unreadable covers them too.
"""

from __future__ import annotations

import contextlib

from cradle.media.store import StoreError
from cradle.updates.models import Update
from cradle.viewing.storage import segment_store

TEXT, PHOTO = "txt", "jpg"


def _place(update: Update, what: str) -> tuple[str, str, int, str]:
    return update.admission.media_id, f"update-{update.pk}", 0, what


def put_text(update: Update, text: str) -> None:
    """Seals the words; the admission gets its data key here if no camera has given it one yet. A shredded
    admission never gets a new key."""
    if update.admission.shredded_at is not None:
        raise StoreError("The baby's media has been destroyed; no update can be kept for them.")
    store = segment_store()
    store.admit(update.admission.media_id)
    store.put(*_place(update, TEXT), text.encode())


def put_photo(update: Update, jpeg: bytes) -> None:
    segment_store().put(*_place(update, PHOTO), jpeg)


def text(update: Update) -> str | None:
    """The update's words, or None once they can no longer be read (the admission's key is destroyed)."""
    try:
        return segment_store().get(*_place(update, TEXT)).decode()
    except StoreError:
        return None


def photo(update: Update) -> bytes:
    """The redacted, unmarked photo (StoreError when it is gone); only cradle.updates.photos.for_viewer sends it."""
    return segment_store().get(*_place(update, PHOTO))


def forget(update: Update) -> None:
    """Removes the update's sealed objects (a draft never sent); gone already is fine."""
    store = segment_store()
    for what in (TEXT, PHOTO):
        with contextlib.suppress(StoreError):
            store.delete(*_place(update, what))
