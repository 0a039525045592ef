"""Login throttling that an attacker cannot turn into a lock-out.

Failures are counted per address, per account on devices that have signed in to it before (a signed device cookie
tells them apart), and per account on all other devices. Guessing from a new device exhausts only the last budget,
so a parent on their own phone can still sign in while someone hammers their account.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from cradle.audit.log import client_ip

COOKIE = "cradle_device"
_SALT = "cradle.accounts.device"
_MAX_ACCOUNTS_PER_DEVICE = 8


def _conf(name: str) -> int:
    return settings.CRADLE[name]


def _account(username: str) -> str:
    return hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]


def _device(request: HttpRequest) -> dict:
    try:
        value = signing.loads(request.COOKIES.get(COOKIE, ""), salt=_SALT, max_age=400 * 86400)
    except signing.BadSignature:
        return {}
    return value if isinstance(value, dict) else {}


def _buckets(request: HttpRequest, username: str) -> list[tuple[str, int]]:
    account = _account(username)
    device = _device(request)
    if account in device.get("a", []):
        account_key = (f"login-fail:dev:{account}:{device['d']}", _conf("LOGIN_FAILURES_PER_ACCOUNT_DEVICE"))
    else:
        account_key = (f"login-fail:new:{account}", _conf("LOGIN_FAILURES_PER_ACCOUNT_UNKNOWN_DEVICES"))
    return [(f"login-fail:ip:{client_ip(request)}", _conf("LOGIN_FAILURES_PER_ADDRESS")), account_key]


def allowed(request: HttpRequest, username: str) -> bool:
    """Whether a password attempt for this account from this device and address may be checked at all."""
    return all((cache.get(key) or 0) < limit for key, limit in _buckets(request, username))


def failed(request: HttpRequest, username: str) -> None:
    window = _conf("LOGIN_THROTTLE_WINDOW_SECONDS")
    for key, _limit in _buckets(request, username):
        cache.add(key, 0, window)
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, window)


def succeeded(request: HttpRequest, username: str) -> None:
    """Clears this device's failures for the account and remembers the device for the next sign-in."""
    account = _account(username)
    device = _device(request)
    if "d" not in device:
        device = {"d": secrets.token_urlsafe(12), "a": []}
    cache.delete(f"login-fail:dev:{account}:{device['d']}")
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
    return (cache.get(f"join-fail:ip:{client_ip(request)}") or 0) < _conf("JOIN_FAILURES_PER_ADDRESS")


def join_failed(request: HttpRequest) -> None:
    key = f"join-fail:ip:{client_ip(request)}"
    cache.add(key, 0, _conf("LOGIN_THROTTLE_WINDOW_SECONDS"))
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, 1, _conf("LOGIN_THROTTLE_WINDOW_SECONDS"))
