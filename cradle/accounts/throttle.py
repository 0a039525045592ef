"""Sign-in throttling that an attacker cannot turn into a lock-out.

Failed passwords and failed second steps are counted per account, and a device that has signed in to that account
before (a signed device cookie tells it apart) has a budget of its own: guessing from anywhere else, however much,
never closes the account to its owner's phone. Password failures from other devices are also counted per address, so
that one address cannot spray many accounts; a known device does not draw on that budget either, because a hospital's
Wi-Fi puts every parent behind one address and a stranger there could otherwise lock them all out.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from cradle.request import CradleRequest, client_ip

COOKIE = "cradle_device"
_SALT = "cradle.accounts.device"
_MAX_ACCOUNTS_PER_DEVICE = 8


def _budgets(step: str) -> tuple[int, int]:
    """Failures allowed per account in a window: from a device that signed in before, and from any other."""
    limits = settings.CRADLE
    if step == "login":
        return limits.login_failures_per_account_device, limits.login_failures_per_account_unknown_devices
    return limits.second_step_failures_per_account_device, limits.second_step_failures_per_account_unknown_devices


def _account(username: str) -> str:
    return hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]


def _device(request: HttpRequest) -> dict:
    try:
        value = signing.loads(request.COOKIES.get(COOKIE, ""), salt=_SALT, max_age=400 * 86400)
    except signing.BadSignature:
        return {}
    return value if isinstance(value, dict) else {}


def known_device(request: HttpRequest, username: str) -> bool:
    """Whether this browser has signed in to this account before (both steps)."""
    return _account(username) in _device(request).get("a", [])


def _buckets(request: HttpRequest, username: str, step: str) -> list[tuple[str, int]]:
    """The counters one attempt draws on: (cache key, failures allowed in the window)."""
    account = _account(username)
    known, unknown = _budgets(step)
    if known_device(request, username):
        device = _device(request)["d"]
        return [(f"{step}-fail:dev:{account}:{device}", known)]
    buckets = [(f"{step}-fail:new:{account}", unknown)]
    if step == "login":
        # Only the password step needs an address budget: a second step is reached with the right password alone.
        buckets.append((f"login-fail:ip:{client_ip(request)}", settings.CRADLE.login_failures_per_address))
    return buckets


def _allowed(request: HttpRequest, username: str, step: str) -> bool:
    return all((cache.get(key) or 0) < limit for key, limit in _buckets(request, username, step))


def _failed(request: HttpRequest, username: str, step: str) -> None:
    window = settings.CRADLE.login_throttle_window_seconds
    for key, _limit in _buckets(request, username, step):
        cache.add(key, 0, window)
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, window)


def allowed(request: HttpRequest, username: str) -> bool:
    """Whether a password attempt for this account from this device and address may be checked at all."""
    return _allowed(request, username, "login")


def failed(request: HttpRequest, username: str) -> None:
    _failed(request, username, "login")


def second_step_allowed(request: HttpRequest, username: str) -> bool:
    """Whether a second-step code for this account (its password already given) may be checked from this device."""
    return _allowed(request, username, "second-step")


def second_step_failed(request: HttpRequest, username: str) -> None:
    _failed(request, username, "second-step")


def succeeded(request: CradleRequest, username: str) -> None:
    """Clears this device's failures for the account and remembers the device for the next sign-in."""
    account = _account(username)
    device = _device(request)
    if "d" not in device:
        device = {"d": secrets.token_urlsafe(12), "a": []}
    cache.delete_many([f"login-fail:dev:{account}:{device['d']}", f"second-step-fail:dev:{account}:{device['d']}"])
    accounts = [a for a in device.get("a", []) if a != account] + [account]
    device["a"] = accounts[-_MAX_ACCOUNTS_PER_DEVICE:]
    request._cradle_device_cookie = signing.dumps(device, salt=_SALT)


def set_cookie(request: HttpRequest, response: HttpResponse) -> None:
    if value := getattr(request, "_cradle_device_cookie", None):
        response.set_cookie(
            COOKIE,
            value,
            max_age=400 * 86400,
            httponly=True,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
        )


def join_allowed(request: HttpRequest) -> bool:
    """Invitation codes carry 80 bits, so guessing is hopeless; this only keeps one address from hammering."""
    return (cache.get(f"join-fail:ip:{client_ip(request)}") or 0) < settings.CRADLE.join_failures_per_address


def join_failed(request: HttpRequest) -> None:
    key = f"join-fail:ip:{client_ip(request)}"
    cache.add(key, 0, settings.CRADLE.login_throttle_window_seconds)
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, 1, settings.CRADLE.login_throttle_window_seconds)
