"""The hospital's OpenID Connect provider: its settings, checked once, and what a verified ID token says about the
person signing in (who, their groups, whether the provider already asked them for a second factor).

The protocol itself (authorization code with PKCE, state, nonce, the ID token's signature, issuer, audience and
expiry) is in cradle.integrations.directory.provider; what Cradle does with the person is in .signin.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# Signatures Cradle accepts on ID tokens: the provider's published public keys only. HS256 (keyed with the client
# secret, which Cradle holds too) and "none" prove nothing about who signed.
ASYMMETRIC = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}


class Refused(Exception):
    """The provider's answer does not let this person in; `reason` is the word the audit log records."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Config:
    issuer: str
    client_id: str
    client_secret: str
    scopes: tuple[str, ...]
    groups_claim: str
    username_claim: str
    mfa_amr: frozenset[str]
    mfa_acr: frozenset[str]
    algorithms: tuple[str, ...]

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


def _words(text: str) -> list[str]:
    return [w for w in text.replace(",", " ").split() if w]


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def parse(d: dict[str, Any]) -> Config | None:
    """The provider's settings from settings.DIRECTORY, or None when none is configured; one sentence when wrong."""
    issuer = d.get("OIDC_ISSUER", "")
    if not issuer:
        return None
    parts = urlsplit(issuer)
    if parts.scheme != "https" and not (parts.scheme == "http" and _loopback(parts.hostname)):
        raise ImproperlyConfigured("CRADLE_OIDC_ISSUER must be an https:// address (http only on the machine itself).")
    if parts.query or parts.fragment:
        raise ImproperlyConfigured("CRADLE_OIDC_ISSUER must not have a query or fragment.")
    if not d.get("OIDC_CLIENT_ID") or not d.get("OIDC_CLIENT_SECRET"):
        raise ImproperlyConfigured("Set CRADLE_OIDC_CLIENT_ID and CRADLE_OIDC_CLIENT_SECRET for the provider.")
    scopes = tuple(dict.fromkeys(["openid", *_words(d.get("OIDC_SCOPES", ""))]))
    algorithms = tuple(_words(d.get("OIDC_ALGORITHMS", "")))
    if not algorithms or set(algorithms) - ASYMMETRIC:
        raise ImproperlyConfigured(f"CRADLE_OIDC_ALGORITHMS takes public-key signatures only: {sorted(ASYMMETRIC)}.")
    return Config(
        issuer=issuer,
        client_id=d["OIDC_CLIENT_ID"],
        client_secret=d["OIDC_CLIENT_SECRET"],
        scopes=scopes,
        groups_claim=d.get("OIDC_GROUPS_CLAIM") or "groups",
        username_claim=d.get("OIDC_USERNAME_CLAIM") or "preferred_username",
        mfa_amr=frozenset(_words(d.get("OIDC_MFA_AMR", ""))),
        mfa_acr=frozenset(_words(d.get("OIDC_MFA_ACR", ""))),
        algorithms=algorithms,
    )


@cache
def _cached(items: tuple[tuple[str, Any], ...]) -> Config | None:
    return parse(dict(items))


def config() -> Config | None:
    """The configured provider (settings read once per distinct value), or None when the hospital has none."""
    d = settings.DIRECTORY
    return _cached(tuple(sorted((k, v) for k, v in d.items() if k.startswith("OIDC_"))))


@dataclass(frozen=True)
class Person:
    """Who the provider says is signing in."""

    subject: str
    login: str
    name: str
    groups: list[str]
    # The amr or acr value by which the provider vouches for a second factor (e.g. "amr:otp"), or "" when it does not.
    second_factor: str
    auth_time: int | None


def _claim(data: dict[str, Any], path: str) -> Any:
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, str)]
    return []


def second_factor(claims: dict[str, Any], cfg: Config) -> str:
    """The `amr` method or `acr` value that counts as a second factor here, or "" (see README: what is trusted)."""
    for method in _strings(claims.get("amr")):
        if method in cfg.mfa_amr:
            return f"amr:{method}"
    acr = claims.get("acr")
    if isinstance(acr, str) and acr in cfg.mfa_acr:
        return f"acr:{acr}"
    return ""


def needs_userinfo(claims: dict[str, Any], cfg: Config) -> bool:
    """Whether the groups must be asked of the userinfo endpoint (providers that keep them out of the ID token)."""
    return _claim(claims, cfg.groups_claim) is None


def person(claims: dict[str, Any], userinfo: dict[str, Any] | None, cfg: Config) -> Person:
    """The person of a verified ID token (and of the userinfo answer for the same subject, if one was asked)."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise Refused("invalid_token", "The ID token names no subject.")
    profile = dict(claims)
    if userinfo is not None:
        if userinfo.get("sub") != subject:
            # OpenID Connect Core 5.3.2: a userinfo answer for another subject must not be used.
            raise Refused("userinfo_mismatch", "The userinfo answer is about someone else.")
        profile = {**userinfo, **claims}
    groups_value = _claim(claims, cfg.groups_claim)
    if groups_value is None and userinfo is not None:
        groups_value = _claim(userinfo, cfg.groups_claim)
    login = _strings(profile.get(cfg.username_claim))
    name = _strings(profile.get("name"))
    login_text = (login[0] if login else subject).split("@", 1)[0] or subject
    auth_time = claims.get("auth_time")
    return Person(
        subject=subject,
        login=login_text[:150],
        name=(name[0] if name else login_text)[:60],
        groups=_strings(groups_value),
        second_factor=second_factor(claims, cfg),
        auth_time=auth_time if isinstance(auth_time, int) else None,
    )
