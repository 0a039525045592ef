"""Path converters for Cradle's addresses."""

from __future__ import annotations

# The largest id the database holds (64-bit signed).
MAX_ID = 2**63 - 1


class IdConverter:
    """A database id in an address. Any run of digits matches, so that a number too large for the database (a guessed
    or crafted one) still reaches the view: it becomes 0, an id nothing has, and the view's scoped look-up answers it
    with the audited 404 every other id outside the scope gets, instead of a database error."""

    regex = "[0-9]+"

    def to_python(self, value: str) -> int:
        # Past 19 digits the number cannot be an id (and Python refuses to read very long ones).
        number = int(value) if len(value) <= 19 else 0
        return number if number <= MAX_ID else 0

    def to_url(self, value: int) -> str:
        return str(value)
