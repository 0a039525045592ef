"""Which variant of each mark unit an account receives: the one place where delivery decides it.

A segment is cut into mark units (cradle.media.mark.MARK_UNITS, two of half a second; segments made before units are
one unit of 1 s). For each unit the account gets variant A or B, a bit of HMAC(session key, camera, segment index), and
its segment is the concatenation of those unit variants, asked of the store by name: "A" or "B" for a segment of one
unit, "AB" for unit 0 of A and unit 1 of B (cradle.media.store joins the units' objects).

Once an account has received a segment, the same variants are all it ever receives of it (ServedVariant): with both
variants of a unit, a viewer could average the mark away. The choice is kept as one small number: 0 or 1 (A or B) for a
segment of one unit, and 2^n + bits for n units, bit u being unit u's variant (1 for B), which tracing reads back with
`letters`.

Deliberately free of the media stack (no OpenCV), since every segment fetch passes here.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction

from cradle.viewing.models import LiveSegment, ServedVariant

if TYPE_CHECKING:
    from cradle.viewing.delivery import Viewer

LETTERS = "AB"
# Every object the worker may store for a segment, whatever its units: retention deletes them all.
SEGMENT_OBJECTS = ("A", "B", "A0", "B0", "A1", "B1", "ref")


def letters(code: int) -> str:
    """The stored choice as one letter per unit ("A", "B", "AB", ...)."""
    if code < 0:
        raise ValueError(f"{code} is not a variant choice")
    if code < 2:
        return LETTERS[code]
    units = code.bit_length() - 1
    bits = code - (1 << units)
    return "".join(LETTERS[(bits >> u) & 1] for u in range(units))


def code(choice: str) -> int:
    """The number `letters` reads back as `choice`."""
    if not choice or any(c not in LETTERS for c in choice):
        raise ValueError(f"{choice!r} is not a variant choice")
    if len(choice) == 1:
        return LETTERS.index(choice)
    return (1 << len(choice)) + sum(LETTERS.index(c) << u for u, c in enumerate(choice))


def session_letters(key: bytes, camera_id: int, index: int, units: int) -> str:
    """The variants a session with `key` is due for one segment of `units` units; unit 0 is the bit a segment of one
    unit always had, so an account's choice for old segments is unchanged."""
    digest = hmac.new(key, f"camera:{camera_id}:{index}".encode(), hashlib.sha256).digest()
    return "".join(LETTERS[(digest[0] >> u) & 1] for u in range(units))


def units_of(camera_id: int, index: int) -> int:
    """How many mark units the stored segment has (1 for segments made before units, or unknown ones)."""
    found = LiveSegment.objects.filter(camera_id=camera_id, index=index).values_list("units", flat=True).first()
    return found or 1


def choose(device: Viewer, camera_id: int, index: int) -> str:
    """The name of the segment this session gets (see the module's docstring); an account that already received the
    segment keeps getting what it got."""
    from cradle.viewing.delivery import session_key  # the session's key lives with the rest of delivery's secrets

    # Most fetches find the account's choice already made: a plain read takes no write lock.
    known = ServedVariant.objects.filter(user_id=device.user_id, camera_id=camera_id, index=index)
    served = known.values_list("variant", flat=True).first()
    if served is None:
        due = session_letters(session_key(device), camera_id, index, units_of(camera_id, index))
        try:
            with transaction.atomic():
                served = ServedVariant.objects.create(
                    user_id=device.user_id,
                    camera_id=camera_id,
                    index=index,
                    variant=code(due),
                    session=device.public_id,
                ).variant
        except IntegrityError:  # another request of the same account won the race; take what it recorded
            served = known.values_list("variant", flat=True).get()
    return letters(served)
