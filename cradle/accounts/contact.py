"""Parents' contact details: sealed in the database, masked on staff pages, revealed only on an audited request.

A copy of the database alone yields no e-mail address or phone number: each value is sealed with AES-256-GCM under a
key derived from the site's secret key (cradle.accounts.secretbox). A keyed digest beside the e-mail address lets a
password reset find its account without the address being readable.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import models
from django.db.models import Lookup
from django.db.models.expressions import Col
from django.utils.crypto import salted_hmac

from cradle.accounts import secretbox

PURPOSE = "contact"


class SealedContactField(models.CharField):
    """A short text the application reads in the clear and the database holds sealed.

    Each seal has its own nonce, so the sealed column cannot be compared with a value. With `digest_field`, an exact
    (or case-insensitive) lookup compares that column's keyed digest instead, so that `filter(email=address)` (a
    password reset) still finds its account; the empty string is stored as is and compared directly.
    """

    def __init__(self, *args: Any, digest_field: str | None = None, **kwargs: Any) -> None:
        # A sealed value is about 4/3 of (nonce + text + tag) plus a prefix.
        kwargs.setdefault("max_length", 400)
        self.digest_field = digest_field
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> tuple:
        name, path, args, kwargs = super().deconstruct()
        if self.digest_field:
            kwargs["digest_field"] = self.digest_field
        return name, path, args, kwargs

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        return secretbox.unseal(value, PURPOSE) if value else value

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if not value or value.startswith(secretbox.PREFIX):
            return value
        return secretbox.seal(value, PURPOSE)


class _DigestExact(Lookup):
    lookup_name = "exact"
    prepare_rhs = False  # the value must not be sealed: it is hashed, or compared empty

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        field = self.lhs.output_field
        value = str(self.rhs or "")
        if not value:
            lhs_sql, lhs_params = compiler.compile(self.lhs)
            return f"{lhs_sql} = %s", (*lhs_params, "")
        if not field.digest_field:
            raise TypeError(f"{field.name} is sealed and cannot be looked up by value.")
        digest = Col(self.lhs.alias, field.model._meta.get_field(field.digest_field))
        lhs_sql, lhs_params = compiler.compile(digest)
        return f"{lhs_sql} = %s", (*lhs_params, email_digest(value))


class _DigestIExact(_DigestExact):
    lookup_name = "iexact"  # the digest is of the lower-cased address already


SealedContactField.register_lookup(_DigestExact)
SealedContactField.register_lookup(_DigestIExact)


def email_digest(address: str) -> str:
    """The keyed hash under which an e-mail address is looked up; empty for no address."""
    normalised = address.strip().lower()
    if not normalised:
        return ""
    return salted_hmac("cradle.accounts.email", normalised, algorithm="sha256").hexdigest()


def mask_email(address: str) -> str:
    """ "m•••@e•••.com": enough for a nurse to recognise an address the parent reads out, not to copy it."""
    if not address or "@" not in address:
        return ""
    local, _, domain = address.partition("@")
    host, dot, tld = domain.rpartition(".")
    if not dot:
        host, tld = domain, ""
    return f"{local[:1]}•••@{host[:1]}•••{dot}{tld}"


def mask_phone(number: str) -> str:
    """ "•••• 4321": the last four digits only."""
    digits = re.sub(r"\D", "", number or "")
    if not digits:
        return ""
    return "•••• " + digits[-4:]
