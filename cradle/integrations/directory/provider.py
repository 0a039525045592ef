"""The hospital's OpenID Connect provider as an allauth provider, with the protocol's checks made strict.

allauth's `openid_connect` provider does the authorization code flow; Cradle's subclass makes sure that:
- PKCE (S256) and a `nonce` are always sent, and the request's parameters are Cradle's alone (allauth lets a link
  add scopes and parameters of its choosing);
- the ID token's signature is always checked against the provider's published keys, with a public-key algorithm
  from CRADLE_OIDC_ALGORITHMS (allauth skips the signature when the token came straight from the token endpoint,
  which the specification allows, but a signature costs nothing and also covers a misrouted or proxied answer);
- issuer, audience (and `azp`), expiry, issue time and `nonce` are checked, and the discovery document must name
  the configured issuer;
- re-authentication asks the provider for a fresh sign-in (`prompt=login`, `max_age=0`);
- a back-channel logout token is checked like an ID token, must carry the logout event and no nonce, and is taken
  once.

The one app comes from settings.DIRECTORY (never from the database), so the settings are the whole configuration.
allauth's sign-up, account linking and social-account pages are not used: .signin decides who signs in.
"""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any

import jwt
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter, get_adapter
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.oauth2.utils import generate_code_challenge
from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.core.cache import cache
from django.http import HttpRequest
from django.urls import reverse

from cradle.integrations.directory import oidc

PROVIDER_ID = "hospital"
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
# Clock difference tolerated between Cradle and the provider when checking `exp`, `iat` and `auth_time`.
LEEWAY_SECONDS = 60


class HospitalAppAdapter(DefaultSocialAccountAdapter):
    """The hospital's app from the settings, and no other: none from the database, no sign-up through it."""

    def list_apps(self, request: HttpRequest | None, provider: str | None = None, client_id: str | None = None):
        cfg = oidc.config()
        if cfg is None or provider not in (None, PROVIDER_ID) or client_id not in (None, cfg.client_id):
            return []
        app = SocialApp(
            provider=PROVIDER_ID,
            name="Hospital",
            client_id=cfg.client_id,
            secret=cfg.client_secret,
            settings={"server_url": cfg.discovery_url, "oauth_pkce_enabled": True},
        )
        return [app]

    def is_open_for_signup(self, request: HttpRequest, sociallogin: Any) -> bool:
        return False


class HospitalOAuth2Adapter(OpenIDConnectOAuth2Adapter):
    def __init__(self, request: HttpRequest) -> None:
        super().__init__(request, PROVIDER_ID)

    @property
    def openid_config(self) -> dict[str, Any]:
        config = super().openid_config
        cfg = oidc.config()
        if cfg is None or config.get("issuer") != cfg.issuer:
            # OpenID Connect Discovery 4.3: the document must be the configured issuer's own.
            raise OAuth2Error("The provider's discovery document names another issuer.")
        return config

    def get_callback_url(self, request: HttpRequest, app: SocialApp) -> str:
        return request.build_absolute_uri(reverse("hospital_callback"))

    def _signing_key(self, kid: str | None) -> Any:
        """The provider's published key with this id (or its one signing key, for a token that names none)."""
        with get_adapter().get_requests_session() as session:
            response = session.get(self.openid_config["jwks_uri"])
            response.raise_for_status()
            keys = jwt.PyJWKSet.from_dict(response.json()).keys
        usable = [k for k in keys if getattr(k, "public_key_use", None) in (None, "sig")]
        if kid is not None:
            usable = [k for k in usable if k.key_id == kid]
        elif len(usable) != 1:
            usable = []
        if not usable:
            raise oidc.Refused("invalid_token", "The token's key is not among the provider's keys.")
        return usable[0].key

    def _verified(self, token: Any, what: str, required: list[str]) -> dict[str, Any]:
        """The claims of a token the provider signed for Cradle with one of its published keys, from the configured
        issuer, still valid; `oidc.Refused` otherwise."""
        cfg = oidc.config()
        assert cfg is not None  # the views answer 404 without a provider
        if not isinstance(token, str) or not token:
            raise oidc.Refused("invalid_token", f"The provider sent no {what}.")
        try:
            header = jwt.get_unverified_header(token)
            alg = header.get("alg")
            if alg not in cfg.algorithms:
                raise oidc.Refused("invalid_token", f"{what} signed with {alg!r} is not accepted.")
            key = self._signing_key(header.get("kid"))
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=cfg.client_id,
                issuer=cfg.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": required},
            )
        except jwt.PyJWTError as e:
            raise oidc.Refused("invalid_token", f"The {what} is not valid ({type(e).__name__}).") from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if (len(audiences) > 1 or "azp" in claims) and claims.get("azp") != cfg.client_id:
            raise oidc.Refused("invalid_token", f"The {what} was issued to another application.")
        return claims

    def verify_id_token(self, id_token: Any, *, nonce: str) -> dict[str, Any]:
        """The claims of an ID token that the provider signed for Cradle, for this sign-in, and that is still valid;
        `oidc.Refused` otherwise."""
        claims = self._verified(id_token, "ID token", ["iss", "sub", "aud", "exp", "iat"])
        if not hmac.compare_digest(str(claims.get("nonce", "")).encode(), nonce.encode()):
            # A token from another sign-in (replayed, or injected into this browser's callback).
            raise oidc.Refused("invalid_token", "The ID token belongs to another sign-in.")
        return claims

    def verify_logout_token(self, logout_token: Any) -> dict[str, Any]:
        """The claims of a back-channel logout token (OpenID Connect Back-Channel Logout 1.0, 2.6), used once."""
        claims = self._verified(logout_token, "logout token", ["iss", "sub", "aud", "exp", "iat", "jti", "events"])
        events = claims.get("events")
        if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_LOGOUT_EVENT), dict):
            raise oidc.Refused("invalid_token", "The logout token is not a back-channel logout event.")
        if "nonce" in claims:
            # An ID token offered as a logout token.
            raise oidc.Refused("invalid_token", "A logout token carries no nonce.")
        if not isinstance(claims["sub"], str) or not claims["sub"]:
            raise oidc.Refused("invalid_token", "The logout token names no subject.")
        seconds = max(int(claims["exp"] - time.time()), 0) + 2 * LEEWAY_SECONDS
        if not cache.add(f"cradle:oidc:logout:{claims['jti']}", 1, timeout=seconds):
            raise oidc.Refused("invalid_token", "The logout token was used before.")
        return claims

    def userinfo(self, access_token: str) -> dict[str, Any]:
        data = self._fetch_user_info(access_token)
        if not isinstance(data, dict):
            raise oidc.Refused("userinfo_mismatch", "The userinfo answer is not a JSON object.")
        return data


class HospitalProvider(OpenIDConnectProvider):
    id = PROVIDER_ID
    name = "Hospital"
    oauth2_adapter_class = HospitalOAuth2Adapter

    def get_oauth2_adapter(self, request: HttpRequest) -> HospitalOAuth2Adapter:
        return HospitalOAuth2Adapter(request)

    def get_login_url(self, request: HttpRequest, **kwargs: Any) -> str:
        return reverse("hospital_login")

    def get_callback_url(self) -> str:
        return reverse("hospital_callback")

    def get_pkce_params(self) -> dict:
        return generate_code_challenge()

    def get_scope(self) -> list[str]:
        cfg = oidc.config()
        return list(cfg.scopes) if cfg else ["openid"]

    def get_scope_from_request(self, request: HttpRequest) -> list[str]:
        return self.get_scope()

    def get_auth_params(self) -> dict:
        cfg = oidc.config()
        if cfg and cfg.mfa_acr:
            # Asks for a sign-in at one of these levels; whatever the provider did is checked in the ID token.
            return {"acr_values": " ".join(sorted(cfg.mfa_acr))}
        return {}

    def get_auth_params_from_request(self, request: HttpRequest, action: Any) -> dict:
        return self.get_auth_params()

    def redirect(
        self, request: HttpRequest, process: str, next_url: str | None = None, data: Any = None, **kwargs: Any
    ):
        """To the provider's sign-in, with a fresh nonce (kept in this browser's session state with the PKCE
        verifier) and, to re-authenticate, a demand for a sign-in made now."""
        nonce = secrets.token_urlsafe(32)
        auth_params = {**self.get_auth_params(), "nonce": nonce}
        if process == "reauthenticate":
            auth_params.update({"prompt": "login", "max_age": "0"})
        kwargs.pop("auth_params", None)
        return super().redirect(
            request,
            process,
            next_url=next_url,
            data=data,
            auth_params=auth_params,
            nonce=nonce,
            started_at=int(time.time()),
            **kwargs,
        )


provider_classes = [HospitalProvider]
