"""Staff sign in through the hospital's OpenID Connect provider: a real one (node-oidc-provider,
tests/oidc_provider.mjs) on loopback, started once for the module, driven through its real redirects and forms.

The authorization code flow with PKCE, state and nonce; ID tokens that are tampered, expired, from another issuer
or audience, replayed or signed the wrong way refused; groups to roles at each sign-in; a person with no mapped group
refused and their sessions ended; Cradle's second step skipped only for a session whose token proved a second factor;
re-authentication at the provider; family accounts untouched.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from allauth.mfa.totp.internal.auth import TOTP
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cradle.accounts import second_step
from cradle.accounts.models import DeviceSession, User
from cradle.audit.models import Event
from cradle.integrations.directory import oidc, roles
from cradle.unit.models import Admission, Bed, FamilyMembership, StaffMembership, Unit
from tests import oidc_idp
from tests.conftest import PASSWORD, TOTP_SECRET, fresh_totp_code, make_user, sign_in_by_form

ROLES = """
[[role]]
group = "nicu-nurses"
unit = "nicu"
role = "nurse"

[[role]]
group = "SCN-Nurses"
unit = "scn"
role = "nurse"

[[role]]
group = "nicu-privacy"
unit = "nicu"
role = "privacy_officer"
"""
MFA_ACR = "urn:hospital:loa:mfa"


@pytest.fixture(scope="module")
def idp(tmp_path_factory):
    provider = oidc_idp.start(tmp_path_factory.mktemp("oidc"))
    yield provider
    oidc_idp.stop(provider)


def configure(settings, issuer: str, roles_file) -> None:
    settings.DIRECTORY = {
        **settings.DIRECTORY,
        "OIDC_ISSUER": issuer,
        "OIDC_CLIENT_ID": oidc_idp.CLIENT_ID,
        "OIDC_CLIENT_SECRET": oidc_idp.CLIENT_SECRET,
        "OIDC_SCOPES": "openid profile groups",
        "OIDC_MFA_ACR": MFA_ACR,
        "ROLES_FILE": str(roles_file),
    }
    roles._from_file.cache_clear()


@pytest.fixture
def hospital(idp, settings, tmp_path, db):
    roles_file = tmp_path / "roles.toml"
    roles_file.write_text(ROLES)
    configure(settings, idp.issuer, roles_file)
    units = {code: Unit.objects.create(name=code.upper(), code=code) for code in ("nicu", "scn")}
    yield units
    roles._from_file.cache_clear()
    for person in oidc_idp.PEOPLE:
        idp.set_groups(person["login"], person["groups"])


def begin(client: Client, **data) -> str:
    """Presses "Sign in with your hospital account": gives the provider's address Cradle sends the browser to."""
    response = client.post(reverse("hospital_login"), data)
    assert response.status_code == 302, response.content[:300]
    return response["Location"]


def sign_in(client: Client, idp, login: str, amr: str = "pwd", acr: str = "", browser=None, code: bool = True):
    """Signs in through the provider as `login`; answers Cradle's second step with the authenticator app when it is
    asked and `code` is true. Gives Cradle's last answer."""
    back = idp.authorize(begin(client), login, amr=amr, acr=acr, browser=browser)
    response = client.get(oidc_idp.path_of(back))
    if code and response.status_code == 302 and response["Location"].startswith("/accounts/2fa/authenticate/"):
        user = User.objects.get(username=f"{login}@oidc")
        response = client.post("/accounts/2fa/authenticate/", {"code": fresh_totp_code(user)})
    return response


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def board(hospital, code: str = "nicu") -> str:
    return reverse("board", args=[hospital[code].pk])


def test_a_nurse_signs_in_through_the_hospital_and_gets_the_roles_of_her_groups(hospital, idp):
    client = Client()
    response = sign_in(client, idp, "amina")
    assert response.status_code == 302 and signed_in(client)
    user = User.objects.get(username="amina@oidc")
    assert user.display_name == "Amina Osei" and not user.has_usable_password()
    assert set(StaffMembership.objects.filter(user=user).values_list("unit__code", "role")) == {
        ("nicu", "nurse"),
        ("scn", "nurse"),
    }
    assert Event.objects.get(action="account.created", detail__account=user.pk).detail["via"] == "directory:oidc"
    granted = Event.objects.filter(action="staff.role_granted", detail__account=user.pk)
    assert granted.count() == 2 and {e.detail["via"] for e in granted} == {"directory:oidc"}
    signed = Event.objects.get(action="directory.sign_in", actor_id=user.pk)
    assert signed.detail == {"source": "oidc", "second_factor": "none"}
    # A password at the provider is one factor: staff still need Cradle's second step, so adding one comes first.
    page = client.get(board(hospital))
    assert page.status_code == 302 and page["Location"].startswith("/accounts/2fa/totp/activate")
    assert client.get(page["Location"]).status_code == 200


def test_the_request_to_the_provider_has_pkce_state_and_nonce_and_only_cradles_parameters(hospital, idp):
    client = Client()
    # A link may try to add its own parameters and scopes (allauth takes them from the query by default).
    url = begin(client, auth_params="redirect_uri=https://evil.example/&prompt=none", scope="offline_access")
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(f"{idp.issuer}/auth?")
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) >= 43
    assert len(query["nonce"][0]) >= 32 and len(query["state"][0]) >= 16
    assert query["redirect_uri"] == [oidc_idp.CALLBACK]
    assert set(query["scope"][0].split()) == {"openid", "profile", "groups"}
    assert "prompt" not in query
    assert query["acr_values"] == [MFA_ACR]


def test_an_error_from_the_provider_is_shown_and_audited(hospital, idp):
    """The provider insists on PKCE (so every sign-in above proves Cradle's verifier matches its challenge); a
    request without one comes back as an error, which Cradle shows and audits without signing anyone in."""
    client = Client()
    url = begin(client)
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items() if not k.startswith("code_challenge")}
    answer = requests.get(f"{idp.issuer}/auth", params=query, allow_redirects=False, timeout=10)
    back = answer.headers["Location"]
    assert back.startswith(oidc_idp.CALLBACK) and "error=invalid_request" in back
    response = client.get(oidc_idp.path_of(back))
    assert response.status_code == 400 and not signed_in(client)
    failed = Event.objects.get(action="directory.sign_in_failed")
    assert failed.detail["reason"] == "provider_error" and failed.detail["error"] == "invalid_request"


def test_people_in_no_mapped_group_are_refused(hospital, idp):
    client = Client()
    response = sign_in(client, idp, "porter")
    assert response.status_code == 403 and not signed_in(client)
    assert "gives no access to Cradle" in response.content.decode()
    assert not User.objects.filter(username__endswith="@oidc").exists()
    refused = Event.objects.get(action="directory.sign_in_refused")
    assert refused.outcome == "denied" and refused.detail["reason"] == "no_role"
    assert refused.detail["login"] == "porter"


def test_taken_out_of_every_mapped_group_a_person_is_refused_and_their_sessions_end(hospital, idp):
    first = Client()
    assert sign_in(first, idp, "amina", amr="pwd,otp").status_code == 302
    assert first.get(board(hospital)).status_code == 200
    user = User.objects.get(username="amina@oidc")
    idp.set_groups("amina", ["canteen"])
    second = Client()
    response = sign_in(second, idp, "amina", amr="pwd,otp")
    assert response.status_code == 403 and not signed_in(second)
    user.refresh_from_db()
    assert not user.is_active and not StaffMembership.objects.filter(user=user).exists()
    assert not DeviceSession.objects.filter(user=user, ended_at__isnull=True).exists()
    assert first.get(board(hospital))["Location"].startswith("/accounts/login/")
    assert Event.objects.filter(action="directory.account_closed", actor_id=user.pk, detail__reason="no_role")
    assert Event.objects.filter(action="staff.role_removed", detail__account=user.pk).count() == 2
    assert Event.objects.filter(action="directory.sign_in_refused", actor_id=user.pk, detail__reason="no_role")
    # Back in her group: the same account, open again.
    idp.set_groups("amina", ["nicu-nurses"])
    again = Client()
    assert sign_in(again, idp, "amina", amr="pwd,otp").status_code == 302 and signed_in(again)
    assert int(again.session["_auth_user_id"]) == user.pk and User.objects.get(pk=user.pk).is_active


def test_roles_follow_the_tokens_groups_at_each_sign_in(hospital, idp):
    client = Client()
    sign_in(client, idp, "amina", amr="mfa")
    assert client.get(board(hospital, "scn")).status_code == 200
    user = User.objects.get(username="amina@oidc")
    idp.set_groups("amina", ["nicu-nurses", "nicu-privacy"])
    again = Client()
    sign_in(again, idp, "amina", amr="mfa")
    assert set(StaffMembership.objects.filter(user=user).values_list("unit__code", "role")) == {
        ("nicu", "nurse"),
        ("nicu", "privacy_officer"),
    }
    assert again.get(board(hospital, "scn")).status_code == 404
    removed = Event.objects.get(action="staff.role_removed", detail__account=user.pk)
    assert removed.unit_id == hospital["scn"].pk and removed.detail["via"] == "directory:oidc"
    assert Event.objects.filter(action="staff.role_granted", detail__role="privacy_officer", detail__account=user.pk)


@pytest.mark.parametrize(
    "mode",
    [
        "tampered",
        "foreign_key",
        "expired",
        "foreign_issuer",
        "other_audience",
        "replayed",
        "no_nonce",
        "alg_none",
        "hs256",
    ],
)
def test_an_id_token_that_is_not_the_providers_for_this_sign_in_is_refused(hospital, idp, mode):
    # A genuine sign-in first, so that a replayed token exists.
    assert sign_in(Client(), idp, "jo", amr="mfa").status_code == 302
    idp.spoil_next_token(mode)
    client = Client()
    response = sign_in(client, idp, "amina", amr="mfa")
    assert response.status_code == 400 and not signed_in(client)
    assert not User.objects.filter(username="amina@oidc").exists()
    refused = Event.objects.get(action="directory.sign_in_refused")
    assert refused.detail["reason"] == "invalid_token", refused.detail


def test_a_userinfo_answer_about_someone_else_is_refused(hospital, idp):
    idp.spoil_next_userinfo()
    client = Client()
    response = sign_in(client, idp, "amina", amr="mfa")
    assert response.status_code == 400 and not signed_in(client)
    assert Event.objects.get(action="directory.sign_in_refused").detail["reason"] == "userinfo_mismatch"


def test_a_callback_belongs_to_the_browser_that_started_the_sign_in(hospital, idp):
    victim = Client()
    # Someone starts a sign-in as themselves and sends the address the provider gives back to another browser.
    attacker = Client()
    back = oidc_idp.path_of(idp.authorize(begin(attacker), "amina", amr="mfa"))
    response = victim.get(back)
    assert response.status_code == 400 and not signed_in(victim)
    assert Event.objects.get(action="directory.sign_in_refused").detail["reason"] == "no_sign_in_under_way"
    # The state is used once: the same answer a second time in the right browser signs nobody in either.
    assert attacker.get(back).status_code == 302 and signed_in(attacker)
    again = Client()
    again.cookies = attacker.cookies
    again.post(reverse("account_logout"))
    assert again.get(back).status_code == 400


def test_an_answer_naming_another_issuer_is_refused(hospital, idp):
    client = Client()
    back = idp.authorize(begin(client), "amina", amr="mfa")
    forged = oidc_idp.path_of(back).replace("iss=", "iss=https%3A%2F%2Fother.example&was=")
    response = client.get(forged)
    assert response.status_code == 400 and not signed_in(client)
    assert Event.objects.get(action="directory.sign_in_refused").detail["reason"] == "issuer_mismatch"


@pytest.mark.parametrize(
    ("amr", "acr", "vouched"),
    [
        ("pwd", "", ""),
        ("pwd,otp", "", "amr:otp"),
        ("pwd,hwk", "", "amr:hwk"),
        ("swk", "", "amr:swk"),
        ("mfa", "", "amr:mfa"),
        ("pwd,sms", "", ""),
        ("pwd", MFA_ACR, f"acr:{MFA_ACR}"),
        ("pwd", "urn:hospital:loa:password", ""),
    ],
)
def test_cradles_second_step_is_skipped_only_when_the_token_proves_a_second_factor(hospital, idp, amr, acr, vouched):
    client = Client()
    first = sign_in(client, idp, "amina", amr=amr, acr=acr)
    assert first.status_code == 302 and signed_in(client)
    assert client.session.get(second_step.VOUCHED, "") == vouched
    page = client.get(board(hospital))
    if vouched:
        assert page.status_code == 200
    else:
        assert page["Location"].startswith("/accounts/2fa/totp/activate")
    assert Event.objects.get(action="directory.sign_in").detail["second_factor"] == (vouched or "none")


def test_a_vouched_session_does_not_vouch_for_the_next_one(hospital, idp):
    strong = Client()
    sign_in(strong, idp, "amina", amr="pwd,otp")
    user = User.objects.get(username="amina@oidc")
    TOTP.activate(user, TOTP_SECRET)
    assert strong.get(board(hospital)).status_code == 200
    # She now has an authenticator app. A sign-in at the provider with a password alone asks for it...
    weak = Client()
    step = sign_in(weak, idp, "amina", amr="pwd", code=False)
    assert step["Location"].startswith("/accounts/2fa/authenticate/") and not signed_in(weak)
    weak.post("/accounts/2fa/authenticate/", {"code": fresh_totp_code(user)})
    assert signed_in(weak) and weak.session.get(second_step.VOUCHED) is None
    # ...while one that proved a factor at the provider skips it, for that session.
    again = Client()
    assert sign_in(again, idp, "amina", amr="pwd,hwk", code=False).status_code == 302 and signed_in(again)
    assert again.get(board(hospital)).status_code == 200


def test_signing_in_again_in_the_same_browser_with_one_factor_drops_the_vouching(hospital, idp):
    client = Client()
    sign_in(client, idp, "amina", amr="pwd,otp")
    assert client.get(board(hospital)).status_code == 200
    # The same person signs in again in this browser (a shared ward computer nobody signed out of), password only.
    sign_in(client, idp, "amina", amr="pwd")
    assert signed_in(client) and client.session.get(second_step.VOUCHED) is None
    # A new session: the first one ended.
    user = User.objects.get(username="amina@oidc")
    assert DeviceSession.objects.filter(user=user).count() == 2
    assert DeviceSession.objects.filter(user=user, ended_at__isnull=True).count() == 1
    assert client.get(board(hospital))["Location"].startswith("/accounts/2fa/totp/activate")


def test_without_a_factor_of_cradles_a_vouched_person_confirms_at_the_provider(hospital, idp):
    browser = requests.Session()
    client = Client()
    sign_in(client, idp, "amina", amr="pwd,otp", browser=browser)
    glass = reverse("break_glass", args=[hospital["scn"].pk])
    asked = client.get(glass)
    assert asked.status_code == 302 and asked["Location"].startswith(reverse("hospital_reauthenticate"))
    confirm = client.get(asked["Location"])
    assert confirm.status_code == 200 and "Confirm it is you" in confirm.content.decode()

    def reauthenticate(login: str, amr: str):
        go = client.post(asked["Location"])
        query = parse_qs(urlsplit(go["Location"]).query)
        assert query["prompt"] == ["login"] and query["max_age"] == ["0"]
        # The provider asks again even though this browser is signed in there (prompt=login).
        return client.get(oidc_idp.path_of(idp.authorize(go["Location"], login, amr=amr, browser=browser)))

    # Someone else at the provider, a password alone where the provider must vouch for the second factor, or an
    # answer from an old sign-in at the provider: no.
    assert reauthenticate("jo", "pwd,otp").status_code == 403
    assert reauthenticate("amina", "pwd").status_code == 403
    idp.spoil_next_token("stale_sign_in")
    assert reauthenticate("amina", "pwd,otp").status_code == 403
    reasons = list(
        Event.objects.filter(action="directory.sign_in_refused").order_by("pk").values_list("detail__reason", flat=True)
    )
    assert reasons == ["other_person", "no_second_factor", "not_fresh"]
    assert client.get(glass).status_code == 302
    done = reauthenticate("amina", "pwd,otp")
    assert done.status_code == 302 and done["Location"] == glass
    assert client.get(glass).status_code == 200
    assert Event.objects.filter(action="directory.reauthenticated", actor_id=User.objects.get(username="amina@oidc").pk)


def test_an_account_suspended_for_bulk_access_stays_suspended(hospital, idp):
    sign_in(Client(), idp, "amina", amr="mfa")
    User.objects.filter(username="amina@oidc").update(
        is_active=False, suspended_at=timezone.now(), suspended_for="staff_admissions_per_hour"
    )
    client = Client()
    response = sign_in(client, idp, "amina", amr="mfa")
    assert response.status_code == 403 and not signed_in(client)
    assert not User.objects.get(username="amina@oidc").is_active
    assert Event.objects.get(action="directory.sign_in_refused").detail["reason"] == "suspended"


def test_a_family_account_with_the_same_name_stays_the_familys_own(hospital, idp):
    family = make_user("amina", "Mum")
    client = Client()
    sign_in(client, idp, "amina", amr="mfa")
    staff = User.objects.get(username="amina@oidc")
    assert staff.pk != family.pk and int(client.session["_auth_user_id"]) == staff.pk
    assert not StaffMembership.objects.filter(user=family).exists()
    own = Client()
    sign_in_by_form(own, "amina", PASSWORD)
    assert int(own.session["_auth_user_id"]) == family.pk


def test_a_hospital_account_never_carries_a_familys_access(hospital, idp):
    client = Client()
    sign_in(client, idp, "amina", amr="mfa")
    staff = User.objects.get(username="amina@oidc")
    bed = Bed.objects.create(unit=hospital["nicu"], label="1")
    admission = Admission.objects.create(unit=hospital["nicu"], bed=bed)
    # However it came to be (an administrator's mistake in a shell), a family's access on a hospital account...
    FamilyMembership.objects.create(user=staff, admission=admission, role="relative")
    again = Client()
    response = sign_in(again, idp, "amina", amr="mfa")
    # ...means the hospital's sign-in refuses it: family accounts are Cradle's own, from invitations.
    assert response.status_code == 403 and not signed_in(again)
    assert Event.objects.get(action="directory.sign_in_refused").detail["reason"] == "family_account"


def test_a_login_given_to_someone_new_gets_a_new_account(hospital, idp):
    sign_in(Client(), idp, "amina", amr="mfa")
    idp.set_groups("amina.o", ["nicu-nurses"])
    client = Client()
    sign_in(client, idp, "amina.o", amr="mfa")
    # "amina.o" at the provider's login claim: the part before any "@" becomes the Cradle name; a different `sub`.
    newcomer = User.objects.get(pk=client.session["_auth_user_id"])
    assert newcomer.username == "amina.o@oidc" and newcomer.display_name == "Amina Okafor"


def test_switching_the_provider_off_signs_its_people_out(hospital, idp, settings):
    client = Client()
    sign_in(client, idp, "amina", amr="mfa")
    assert client.get(board(hospital)).status_code == 200
    settings.DIRECTORY = {**settings.DIRECTORY, "OIDC_ISSUER": ""}
    assert client.get(board(hospital))["Location"].startswith("/accounts/login/")
    assert not signed_in(client)
    assert Client().post(reverse("hospital_login")).status_code == 404


def test_a_provider_that_cannot_be_reached_gives_a_page_that_says_so(hospital, idp, settings):
    settings.DIRECTORY = {**settings.DIRECTORY, "OIDC_ISSUER": "http://127.0.0.1:9"}
    response = Client().post(reverse("hospital_login"))
    assert response.status_code == 503 and "cannot be reached" in response.content.decode()
    assert Event.objects.get(action="directory.sign_in_failed").detail["reason"] == "unavailable"


def test_the_sign_in_page_offers_the_hospital_only_when_one_is_configured(hospital, settings):
    page = Client().get(reverse("account_login"))
    assert 'id="hospital_login"' in page.content.decode()
    settings.DIRECTORY = {**settings.DIRECTORY, "OIDC_ISSUER": ""}
    assert 'id="hospital_login"' not in Client().get(reverse("account_login")).content.decode()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"OIDC_ISSUER": "http://login.hospital.example"}, "https://"),
        ({"OIDC_CLIENT_SECRET": ""}, "CRADLE_OIDC_CLIENT_SECRET"),
        ({"OIDC_ALGORITHMS": "RS256,HS256"}, "public-key"),
    ],
)
def test_settings_that_would_weaken_the_sign_in_are_refused_in_one_sentence(change, message):
    good = {
        "OIDC_ISSUER": "https://login.hospital.example",
        "OIDC_CLIENT_ID": "cradle",
        "OIDC_CLIENT_SECRET": "secret",
        "OIDC_ALGORITHMS": "RS256",
    }
    assert oidc.parse(good) is not None
    with pytest.raises(ImproperlyConfigured, match=message):
        oidc.parse({**good, **change})


@pytest.fixture(scope="module")
def idp_with_groups_in_id_token(tmp_path_factory):
    provider = oidc_idp.start(tmp_path_factory.mktemp("oidc-id-token"), groups_in_id_token=True)
    yield provider
    oidc_idp.stop(provider)


def test_groups_may_come_in_the_id_token(idp_with_groups_in_id_token, settings, tmp_path, db):
    idp = idp_with_groups_in_id_token
    roles_file = tmp_path / "roles.toml"
    roles_file.write_text(ROLES)
    configure(settings, idp.issuer, roles_file)
    Unit.objects.create(name="NICU", code="nicu")
    client = Client()
    assert sign_in(client, idp, "jo", amr="mfa").status_code == 302 and signed_in(client)
    user = User.objects.get(username="jo@oidc")
    assert list(StaffMembership.objects.filter(user=user).values_list("role", flat=True)) == ["privacy_officer"]


def test_cradle_serve_stops_on_wrong_settings_of_the_hospitals_sign_in(settings, db):
    settings.DIRECTORY = {**settings.DIRECTORY, "OIDC_ISSUER": "http://login.hospital.example"}
    with pytest.raises(CommandError, match=r"^CRADLE_OIDC_ISSUER must be an https:// address"):
        call_command("serve")


def test_signing_out_at_the_provider_ends_every_cradle_session_of_that_person(hospital, idp):
    browser = requests.Session()
    here, there = Client(), Client()
    sign_in(here, idp, "amina", amr="mfa", browser=browser)
    sign_in(there, idp, "amina", amr="mfa")
    sign_in(jo := Client(), idp, "jo", amr="mfa")
    assert here.get(board(hospital)).status_code == 200 and there.get(board(hospital)).status_code == 200
    tokens = idp.sign_out(browser)
    assert len(tokens) == 1
    endpoint = reverse("hospital_backchannel_logout")
    # The provider's server posts the token; no browser, no CSRF token, no cookie.
    assert Client(enforce_csrf_checks=True).post(endpoint, {"logout_token": tokens[0]}).status_code == 200
    for client in (here, there):
        assert client.get(board(hospital))["Location"].startswith("/accounts/login/")
    assert jo.get(reverse("profile")).status_code == 200 and signed_in(jo)
    user = User.objects.get(username="amina@oidc")
    assert not DeviceSession.objects.filter(user=user, ended_at__isnull=True).exists()
    assert Event.objects.get(action="directory.signed_out_by_provider").detail["sessions_ended"] == 2
    # Taken once: the same token again is refused.
    again = Client().post(endpoint, {"logout_token": tokens[0]})
    assert again.status_code == 400
    assert Event.objects.get(action="directory.logout_refused").outcome == "denied"


def test_only_a_genuine_unused_logout_token_ends_sessions(hospital, idp):
    endpoint = reverse("hospital_backchannel_logout")
    client = Client()
    sign_in(client, idp, "amina", amr="mfa")
    elsewhere = requests.Session()
    sign_in(Client(), idp, "jo", amr="mfa", browser=elsewhere)
    genuine = idp.sign_out(elsewhere)[0]  # jo's
    # Made out for amina instead, keeping the provider's signature.
    header, payload, signature = genuine.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = next(p["sub"] for p in oidc_idp.PEOPLE if p["login"] == "amina")
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    tampered = ".".join([header, forged, signature])
    # Signed by the provider but not a logout token for amina: an ID token (a nonce, no logout event), another
    # event, a nonce, a session id without the subject.
    amina = next(p["sub"] for p in oidc_idp.PEOPLE if p["login"] == "amina")
    logout = {"events": {"http://schemas.openid.net/event/backchannel-logout": {}}}
    signed = [
        idp.last_id_token(),
        idp.sign({"sub": amina, "jti": "a1", "events": {"http://schemas.openid.net/event/other": {}}}),
        idp.sign({"sub": amina, "jti": "a2", "nonce": "n", **logout}),
        idp.sign({"sid": "s", "jti": "a3", **logout}),
    ]
    for token in ("", "not a token", tampered, *signed):
        assert Client().post(endpoint, {"logout_token": token}).status_code == 400
    assert Event.objects.filter(action="directory.logout_refused").count() == 7
    assert client.get(board(hospital)).status_code == 200
