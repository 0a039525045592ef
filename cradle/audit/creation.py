"""Every account, unit, bed, camera, admission and staff role is audited from its creation, whichever way it came.

The events are written by a signal on the models themselves, not by each page or command that creates something, so
that a new way of creating things (the demo, a command, the hospital's admission feed, the directory, a shell) cannot
forget it. They are written in the creating transaction: a creation that is rolled back leaves no event, and one
that is committed always has its event. Who created it comes from the context the caller declares (`acting`), or
from the request being answered (`CreationContextMiddleware`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest, HttpResponse

from cradle.audit.actions import Action
from cradle.audit.log import record


@dataclass(frozen=True)
class Context:
    """Who is creating things now, and through what (`web`, `demo`, `adt`, `directory`, `command:NAME`, ...)."""

    via: str
    request: HttpRequest | None = None
    actor: Any = None


_context: ContextVar[Context | None] = ContextVar("cradle_audit_creation_context", default=None)


@contextmanager
def acting(via: str, *, request: HttpRequest | None = None, actor: Any = None) -> Iterator[Context]:
    """Attributes what is created inside the block to `via` (and the request or actor, when there is one)."""
    context = Context(via=via, request=request, actor=actor)
    token = _context.set(context)
    try:
        yield context
    finally:
        _context.reset(token)


def current() -> Context:
    return _context.get() or Context(via="system")


class CreationContextMiddleware:
    """Attributes what a page creates to the person signed in, their address and their session."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with acting("web", request=request):
            return self.get_response(request)


def _write(action: str, **fields: Any) -> None:
    context = current()
    record(context.request, action, actor=context.actor, via=context.via, **fields)


def _account_created(instance: Any) -> None:
    _write(Action.ACCOUNT_CREATED, account=instance.pk, username=instance.username)


def _unit_created(instance: Any) -> None:
    _write(Action.UNIT_CREATED, unit=instance, code=instance.code)


def _bed_created(instance: Any) -> None:
    _write(Action.BED_CREATED, unit=instance.unit_id, bed=instance.label, bed_id=instance.pk)


def _camera_created(instance: Any) -> None:
    # The source address may hold the camera's password; only that it exists is recorded.
    bed = instance.bed
    _write(Action.CAMERA_CREATED, unit=bed.unit_id if bed else None, bed=bed.label if bed else "", camera=instance.pk)


def _admission_created(instance: Any) -> None:
    _write(Action.ADMISSION_CREATED, admission=instance, unit=instance.unit_id, bed=instance.bed.label)


def _staff_role(action: str) -> Callable[[Any], None]:
    def write(instance: Any) -> None:
        _write(action, unit=instance.unit_id, account=instance.user_id, role=instance.role)

    return write


def install() -> None:
    """Connects the signals (from AuditConfig.ready, once every model is loaded)."""
    from cradle.accounts.models import User
    from cradle.unit.models import Admission, Bed, Camera, StaffMembership, Unit

    created: dict[type, Callable[[Any], None]] = {
        User: _account_created,
        Unit: _unit_created,
        Bed: _bed_created,
        Camera: _camera_created,
        Admission: _admission_created,
        StaffMembership: _staff_role(Action.STAFF_ROLE_GRANTED),
    }
    for model, write in created.items():

        def on_save(sender, instance, created: bool, raw: bool = False, _write=write, **kwargs) -> None:
            # `raw`: loaded from a fixture (a restore), which brings its own audit log along.
            if created and not raw:
                _write(instance)

        post_save.connect(on_save, sender=model, weak=False, dispatch_uid=f"cradle.audit.created.{model.__name__}")
    removed = _staff_role(Action.STAFF_ROLE_REMOVED)
    post_delete.connect(
        lambda sender, instance, **kwargs: removed(instance),
        sender=StaffMembership,
        weak=False,
        dispatch_uid="cradle.audit.removed.StaffMembership",
    )
