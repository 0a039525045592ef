"""The hospital's sign-in pages: going to the provider (to sign in, or to confirm it is still you), and coming back.

All three answer 404 while no provider is configured. Going to the provider is a POST from Cradle's own page (the
sign-in page's button, or the confirmation page a GET shows), so that another site cannot start a sign-in in the
browser's name.
"""

from __future__ import annotations

import logging
import re

from allauth.account.utils import get_next_redirect_url
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.internal import statekit
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from requests import RequestException

from cradle.audit.actions import Action
from cradle.audit.log import record
from cradle.integrations.directory import oidc, signin
from cradle.integrations.directory.provider import PROVIDER_ID, HospitalProvider

log = logging.getLogger(__name__)


def _provider(request: HttpRequest) -> HospitalProvider:
    if oidc.config() is None:
        raise Http404
    return get_adapter(request).get_provider(request, PROVIDER_ID)


def _go(request: HttpRequest, process: str) -> HttpResponse:
    provider = _provider(request)
    next_url = get_next_redirect_url(request)
    if request.method == "POST":
        try:
            return provider.redirect(request, process, next_url=next_url)
        except (RequestException, ValueError, OAuth2Error) as e:
            # The provider's discovery document could not be read (or names another issuer).
            log.warning("the hospital's sign-in cannot be reached: %s", e)
            record(
                request, Action.DIRECTORY_SIGN_IN_FAILED, outcome="failed", source=signin.SOURCE, reason="unavailable"
            )
            return signin.problem(request, "unavailable", 503)
    return render(
        request, "directory/hospital_sign_in.html", {"reauthenticate": process == "reauthenticate", "next": next_url}
    )


@require_http_methods(["GET", "POST"])
def hospital_login(request: HttpRequest) -> HttpResponse:
    return _go(request, "login")


@login_required
@require_http_methods(["GET", "POST"])
def hospital_reauthenticate(request: HttpRequest) -> HttpResponse:
    if signin.identity_of(request.user) is None:
        raise Http404
    return _go(request, "reauthenticate")


@require_GET
def hospital_callback(request: HttpRequest) -> HttpResponse:
    """The provider sends the browser back here with a code (or an error) and the state Cradle gave it."""
    provider = _provider(request)
    cfg = oidc.config()
    assert cfg is not None
    state_id = request.GET.get("state", "")
    state = statekit.unstash_state(request, provider_id=provider.sub_id, state_id=state_id) if state_id else None
    if not state or "nonce" not in state:
        # No sign-in under way in this browser: an old or forged link, or a code meant for another browser.
        return signin.refuse(request, "no_sign_in_under_way", status=400)
    if (error := request.GET.get("error")) is not None:
        reason = "cancelled" if error in ("access_denied", "login_required") else "provider_error"
        record(
            request,
            Action.DIRECTORY_SIGN_IN_FAILED,
            outcome="failed",
            source=signin.SOURCE,
            reason=reason,
            error=re.sub(r"[^a-z_]", "", error.lower())[:40],
        )
        return signin.problem(request, reason, 200 if reason == "cancelled" else 400)
    if "iss" in request.GET and request.GET["iss"] != cfg.issuer:
        # RFC 9207: the answer comes from another provider (a mix-up attack).
        return signin.refuse(request, "issuer_mismatch", status=400)
    if not request.GET.get("code"):
        return signin.refuse(request, "no_code", status=400)
    adapter = provider.get_oauth2_adapter(request)
    try:
        client = adapter.get_client(request, provider.app)
        token = adapter.get_access_token_data(
            request, provider.app, client, pkce_code_verifier=state.get("pkce_code_verifier")
        )
        claims = adapter.verify_id_token(token.get("id_token"), nonce=state["nonce"])
        userinfo = None
        if oidc.needs_userinfo(claims, cfg) and adapter.openid_config.get("userinfo_endpoint"):
            userinfo = adapter.userinfo(str(token.get("access_token", "")))
        person = oidc.person(claims, userinfo, cfg)
    except oidc.Refused as e:
        return signin.refuse(request, e.reason, detail=e.detail, status=400)
    except OAuth2Error as e:
        # The provider refused the code (used, expired, PKCE verifier wrong) or its documents are wrong.
        return signin.refuse(request, "token_refused", detail=str(e), status=400)
    except (RequestException, ValueError) as e:
        log.warning("the hospital's sign-in cannot be reached: %s", e)
        record(request, Action.DIRECTORY_SIGN_IN_FAILED, outcome="failed", source=signin.SOURCE, reason="unavailable")
        return signin.problem(request, "unavailable", 503)
    if state.get("process") == "reauthenticate":
        return signin.reauthenticate(request, person, state)
    return signin.sign_in(request, person, state)


@csrf_exempt  # called by the provider's server, not by a browser: the signed logout token is the proof
@require_POST
def hospital_backchannel_logout(request: HttpRequest) -> HttpResponse:
    """OpenID Connect Back-Channel Logout: the provider says that a person's session there has ended (they signed
    out, or the hospital's IT ended it or disabled them); every Cradle session of theirs ends at once."""
    provider = _provider(request)
    adapter = provider.get_oauth2_adapter(request)
    try:
        claims = adapter.verify_logout_token(request.POST.get("logout_token"))
    except oidc.Refused as e:
        record(request, Action.DIRECTORY_LOGOUT_REFUSED, outcome="denied", source=signin.SOURCE, detail=e.detail[:200])
        return JsonResponse({"error": "invalid_request", "error_description": e.detail}, status=400)
    except (RequestException, ValueError, OAuth2Error) as e:
        log.warning("a back-channel logout could not be checked: %s", e)
        return JsonResponse({"error": "temporarily_unavailable"}, status=503)
    signin.signed_out_by_provider(request, claims["sub"])
    return HttpResponse(status=200)
