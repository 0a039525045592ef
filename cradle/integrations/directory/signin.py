"""Staff signing in through the hospital's OpenID Connect provider, once the provider's answer is verified
(cradle.integrations.directory.provider): which Cradle account it is, the roles the token's groups give, whether
Cradle's second step is still asked, and confirming the person again before a sensitive action.

Accounts belong to the provider's `sub` (within its issuer), never to a name or an e-mail address: a family account
of the same name stays the family's, and family accounts never sign in here (they have no hospital identity, and a
hospital account that somehow carried a family's access is refused). Roles are exactly what the groups give at each
sign-in; a person whose groups give none is refused, and their account is closed and its sessions ended. Between
sign-ins the provider cannot be asked about a person, but it can say that their session there ended (back-channel
logout), and then every Cradle session of theirs ends too.
"""

from __future__ import annotations

from typing import Any

from allauth.account.internal.flows.login import perform_login, record_authentication
from allauth.account.models import Login
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from cradle.accounts import second_step, sessions
from cradle.accounts.models import DeviceSession, User
from cradle.audit.actions import Action
from cradle.audit.log import record
from cradle.integrations.directory import accounts, oidc, roles
from cradle.integrations.directory.models import DirectoryIdentity
from cradle.integrations.directory.provider import LEEWAY_SECONDS, PROVIDER_ID
from cradle.unit.models import FamilyMembership, Unit

SOURCE = DirectoryIdentity.Source.OIDC
VIA = f"directory:{SOURCE}"


def identity(subject: str, cfg: oidc.Config) -> DirectoryIdentity | None:
    return (
        DirectoryIdentity.objects.select_related("user")
        .filter(source=SOURCE, issuer=cfg.issuer, subject=subject)
        .first()
    )


def identity_of(user: Any) -> DirectoryIdentity | None:
    """The user's identity at the configured provider, if the account is one of its people."""
    cfg = oidc.config()
    if cfg is None or not getattr(user, "is_authenticated", False):
        return None
    return DirectoryIdentity.objects.filter(user_id=user.pk, source=SOURCE, issuer=cfg.issuer).first()


def granted(groups: list[str]) -> set[tuple[str, str]]:
    """The (unit code, role) pairs these groups give in units that exist."""
    pairs = roles.roles_for(groups)
    units = set(Unit.objects.filter(code__in={unit for unit, _ in pairs}).values_list("code", flat=True))
    return {(unit, role) for unit, role in pairs if unit in units}


def problem(request: HttpRequest, reason: str, status: int) -> HttpResponse:
    """The page that says why the sign-in did not happen, in words for the person (the reason itself is audited)."""
    if reason == "suspended":
        title = _("Your account is suspended")
        text = _("Your unit's privacy officer can reinstate it.")
    elif reason in ("no_role", "family_account"):
        title = _("Your hospital account gives no access to Cradle")
        text = _("Ask your unit's Cradle administrator if you should have access.")
    elif reason == "unavailable":
        title = _("The hospital's sign-in cannot be reached")
        text = _("Nothing is lost; please try again in a minute.")
    elif reason == "cancelled":
        title = _("The sign-in was cancelled")
        text = _("You can start again whenever you like.")
    elif reason in ("other_person", "not_fresh", "no_second_factor"):
        title = _("Your identity could not be confirmed")
        text = _("Sign in again at the hospital's page as yourself, with your second factor, and try once more.")
    else:
        title = _("The sign-in with the hospital could not be completed")
        text = _("Please start again from Cradle's sign-in page.")
    return render(request, "directory/hospital_problem.html", {"title": title, "text": text}, status=status)


def refuse(
    request: HttpRequest, reason: str, *, user: User | None = None, login: str = "", detail: str = "", status: int = 403
) -> HttpResponse:
    record(
        request,
        Action.DIRECTORY_SIGN_IN_REFUSED,
        outcome="denied",
        actor=user,
        source=SOURCE,
        reason=reason,
        login=login,
        detail=detail[:200],
    )
    return problem(request, reason, status)


def _close(request: HttpRequest, user: User, reason: str) -> None:
    """Closes the account and ends its sessions; this browser's too, when it is theirs."""
    if user.is_active:
        accounts.close(user, SOURCE, reason, request=request)
    if request.user.is_authenticated and request.user.pk == user.pk:
        logout(request)


def sign_in(request: HttpRequest, person: oidc.Person, state: dict[str, Any]) -> HttpResponse:
    """Signs the person in, or refuses them, from what the provider says about them."""
    cfg = oidc.config()
    assert cfg is not None
    known = identity(person.subject, cfg)
    pairs = granted(person.groups)
    if not pairs:
        if known is not None:
            _close(request, known.user, "no_role")
        return refuse(request, "no_role", user=known.user if known else None, login=person.login)
    if known is not None and FamilyMembership.objects.filter(user_id=known.user_id).exists():
        return refuse(request, "family_account", user=known.user, login=person.login)
    user = accounts.account_for(SOURCE, person.subject, person.login, person.name, request=request, issuer=cfg.issuer)
    if not user.is_active:
        return refuse(request, "suspended", user=user, login=person.login)
    roles.sync(user, pairs, via=VIA)
    record(request, Action.DIRECTORY_SIGN_IN, actor=user, source=SOURCE, second_factor=person.second_factor or "none")
    if request.user.is_authenticated:
        # Someone (this person or another) was signed in in this browser: that session ends, and the sign-in starts
        # a new one with nothing carried over (Django would keep the same person's session and its key).
        logout(request)
    login_state = {second_step.VOUCHED: person.second_factor} if person.second_factor else {}
    login = Login(user=user, redirect_url=state.get("next"), state=login_state)
    record_authentication(request, user, method="socialaccount", provider=PROVIDER_ID, uid=person.subject)
    response = perform_login(request, login)
    if person.second_factor and request.user.is_authenticated and request.user.pk == user.pk:
        request.session[second_step.VOUCHED] = person.second_factor
    return response


def reauthenticate(request: HttpRequest, person: oidc.Person, state: dict[str, Any]) -> HttpResponse:
    """Confirms the signed-in person with a sign-in at the provider made just now, then goes back to where they
    were. Roles follow the token's groups here too."""
    cfg = oidc.config()
    assert cfg is not None
    user = request.user
    known = identity(person.subject, cfg)
    if not user.is_authenticated or known is None or known.user_id != user.pk:
        return refuse(request, "other_person", login=person.login)
    started = state.get("started_at", 0)
    if person.auth_time is None or person.auth_time < started - LEEWAY_SECONDS:
        return refuse(request, "not_fresh", user=user, login=person.login)
    if not person.second_factor and not second_step.has_second_factor(user):
        # Nothing of Cradle's stands behind this account's second step: the provider must vouch for it again.
        return refuse(request, "no_second_factor", user=user, login=person.login)
    pairs = granted(person.groups)
    if not pairs:
        _close(request, user, "no_role")
        return refuse(request, "no_role", user=user, login=person.login)
    roles.sync(user, pairs, via=VIA)
    record_authentication(
        request, user, method="socialaccount", provider=PROVIDER_ID, uid=person.subject, reauthenticated=True
    )
    record(request, Action.DIRECTORY_REAUTHENTICATED, source=SOURCE, second_factor=person.second_factor or "none")
    return redirect(state.get("next") or "home")


def signed_out_by_provider(request: HttpRequest, subject: str) -> int:
    """The provider ended this person's session there: every Cradle session of theirs ends. Gives how many."""
    cfg = oidc.config()
    assert cfg is not None
    known = identity(subject, cfg)
    if known is None:
        return 0
    ended = sessions.end_all(known.user, DeviceSession.EndReason.ACCESS_ENDED)
    record(request, Action.DIRECTORY_SIGNED_OUT, actor=known.user, source=SOURCE, sessions_ended=ended)
    return ended


def reauthentication_method(user: Any) -> dict[str, str] | None:
    """allauth's description of confirming at the provider, for accounts that belong to it."""
    if identity_of(user) is None:
        return None
    return {
        "id": "hospital",
        "description": _("Confirm at the hospital's sign-in page"),
        "url": reverse("hospital_reauthenticate"),
    }
