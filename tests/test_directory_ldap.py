"""Staff sign in with the hospital directory: a real OpenLDAP server (Debian's slapd), started once for the module.

Bind and user search with Cradle's service account, the person's own bind for their password, groups to roles per
unit, a disabled account or one taken out of its groups refused at its next request, the second step still Cradle's,
and family accounts untouched.
"""

from __future__ import annotations

import ldap3
import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cradle.accounts.models import DeviceSession, User
from cradle.audit.models import Event
from cradle.integrations.directory import backend, roles
from cradle.unit.models import StaffMembership, Unit
from tests import slapd
from tests.conftest import TOTP_SECRET, fresh_totp_code, make_user

ROLES = f"""
[[role]]
group = "cn=nicu-nurses,{slapd.GROUPS}"
unit = "nicu"
role = "nurse"

[[role]]
group = "CN=scn-nurses, OU=groups, DC=hospital, DC=test"
unit = "scn"
role = "nurse"

[[role]]
group = "cn=nicu-privacy,{slapd.GROUPS}"
unit = "nicu"
role = "privacy_officer"
"""


@pytest.fixture(scope="module")
def directory(tmp_path_factory):
    server = slapd.start(tmp_path_factory.mktemp("slapd"))
    yield server
    slapd.stop(server)


@pytest.fixture
def hospital(directory, settings, tmp_path, db):
    roles_file = tmp_path / "roles.toml"
    roles_file.write_text(ROLES)
    settings.DIRECTORY = {
        **settings.DIRECTORY,
        "LDAP_URL": directory.url,
        "LDAP_BIND_DN": slapd.SERVICE_DN,
        "LDAP_BIND_PASSWORD": slapd.SERVICE_PASSWORD,
        "LDAP_USER_BASE": slapd.PEOPLE,
        "LDAP_DISABLED_FILTER": "(employeeType=disabled)",
        "LDAP_GROUP_BASE": slapd.GROUPS,
        "ROLES_FILE": str(roles_file),
        "RECHECK_SECONDS": 0,
    }
    backend.directory.cache_clear()
    roles._from_file.cache_clear()
    units = {code: Unit.objects.create(name=code.upper(), code=code) for code in ("nicu", "scn")}
    yield units
    backend.directory.cache_clear()
    roles._from_file.cache_clear()


def sign_in(client: Client, login: str, password: str = slapd.PASSWORD):
    response = client.post("/accounts/login/", {"login": login, "password": password})
    if response.status_code == 302 and response["Location"].startswith("/accounts/2fa/authenticate/"):
        user = User.objects.get(username=f"{login}@ldap")
        response = client.post("/accounts/2fa/authenticate/", {"code": fresh_totp_code(user)})
    return response


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def nurse_with_second_step(login: str = "amina") -> tuple[Client, User]:
    """A nurse who signed in once, added an authenticator app, and is signed in now."""
    first = Client()
    sign_in(first, login)
    user = User.objects.get(username=f"{login}@ldap")
    TOTP.activate(user, TOTP_SECRET)
    client = Client()
    assert sign_in(client, login).status_code == 302 and signed_in(client)
    return client, user


def test_a_nurse_signs_in_with_the_directory_password_and_gets_the_roles_of_her_groups(hospital):
    client = Client()
    sign_in(client, "amina")
    assert signed_in(client)
    user = User.objects.get(username="amina@ldap")
    assert user.display_name == "Amina Osei" and not user.has_usable_password()
    assert set(StaffMembership.objects.filter(user=user).values_list("unit__code", "role")) == {
        ("nicu", "nurse"),
        ("scn", "nurse"),
    }
    # Staff still need Cradle's second step: none yet, so the first page is adding one.
    board = client.get(reverse("board", args=[hospital["nicu"].pk]))
    assert board.status_code == 302 and board["Location"].startswith("/accounts/2fa/totp/activate")
    created = Event.objects.get(action="account.created", detail__account=user.pk)
    assert created.detail["via"] == "directory:ldap"
    assert Event.objects.filter(action="staff.role_granted", detail__account=user.pk).count() == 2
    # With an authenticator app, the password alone is not enough.
    TOTP.activate(user, TOTP_SECRET)
    again = Client()
    step = again.post("/accounts/login/", {"login": "amina", "password": slapd.PASSWORD})
    assert step["Location"].startswith("/accounts/2fa/authenticate/") and not signed_in(again)
    again.post("/accounts/2fa/authenticate/", {"code": fresh_totp_code(user)})
    assert again.get(reverse("board", args=[hospital["nicu"].pk])).status_code == 200


@pytest.mark.parametrize(
    ("login", "password"),
    [
        ("amina", "wrong password"),
        ("amina", ""),  # an empty password is an anonymous bind, which LDAP lets through
        ("*", slapd.PASSWORD),
        ("amina)(uid=*", slapd.PASSWORD),
        ("nobody", slapd.PASSWORD),
        ("amina@ldap", slapd.PASSWORD),  # the Cradle name of an account that does not exist yet
    ],
)
def test_wrong_empty_and_crafted_sign_ins_are_refused(hospital, login, password):
    client = Client()
    sign_in(client, login, password)
    assert not signed_in(client)
    assert not User.objects.exists()


def test_people_in_no_cradle_group_or_disabled_are_refused_at_sign_in(hospital):
    for login, reason in (("porter", "no_role"), ("gone", "disabled")):
        client = Client()
        sign_in(client, login)
        assert not signed_in(client), login
        refused = Event.objects.get(action="directory.sign_in_refused", detail__reason=reason)
        assert refused.outcome == "denied"
    assert not StaffMembership.objects.exists()


def test_a_disabled_account_is_refused_at_the_next_request(hospital, directory):
    client, user = nurse_with_second_step()
    board = reverse("board", args=[hospital["nicu"].pk])
    assert client.get(board).status_code == 200
    admin = directory.admin()
    dn = f"uid=amina,{slapd.PEOPLE}"
    try:
        admin.modify(dn, {"employeeType": [(ldap3.MODIFY_REPLACE, ["disabled"])]})
        refused = client.get(board)
        assert refused.status_code == 302 and refused["Location"].startswith("/accounts/login/")
        assert not signed_in(client)
        user.refresh_from_db()
        assert not user.is_active and not StaffMembership.objects.filter(user=user).exists()
        assert not DeviceSession.objects.filter(user=user, ended_at__isnull=True).exists()
        assert Event.objects.filter(action="directory.account_closed", actor_id=user.pk, detail__reason="disabled")
        retry = Client()
        sign_in(retry, "amina")
        assert not signed_in(retry)
    finally:
        admin.modify(dn, {"employeeType": [(ldap3.MODIFY_REPLACE, ["active"])]})
        admin.unbind()
    # Enabled again in the directory: the same account, open again.
    back = Client()
    sign_in(back, "amina")
    assert signed_in(back) and User.objects.get(username="amina@ldap").is_active


def test_roles_follow_group_membership_at_the_next_request(hospital, directory):
    client, user = nurse_with_second_step()
    scn_board = reverse("board", args=[hospital["scn"].pk])
    assert client.get(scn_board).status_code == 200
    admin = directory.admin()
    group, member = f"cn=scn-nurses,{slapd.GROUPS}", f"uid=amina,{slapd.PEOPLE}"
    try:
        admin.modify(group, {"member": [(ldap3.MODIFY_DELETE, [member])]})
        assert client.get(scn_board).status_code == 404
        assert client.get(reverse("board", args=[hospital["nicu"].pk])).status_code == 200
        assert Event.objects.filter(action="staff.role_removed", detail__account=user.pk, unit_id=hospital["scn"].pk)
    finally:
        admin.modify(group, {"member": [(ldap3.MODIFY_ADD, [member])]})
        admin.unbind()


def test_an_account_suspended_for_bulk_access_stays_suspended_whatever_the_directory_says(hospital):
    sign_in(Client(), "amina")
    User.objects.filter(username="amina@ldap").update(
        is_active=False, suspended_at=timezone.now(), suspended_for="staff_admissions_per_hour"
    )
    client = Client()
    sign_in(client, "amina")
    assert not signed_in(client) and not User.objects.get(username="amina@ldap").is_active


def test_a_family_account_with_the_same_name_stays_the_familys_own(hospital):
    family = make_user("amina", "Mum")
    client = Client()
    sign_in(client, "amina")
    staff = User.objects.get(username="amina@ldap")
    assert staff.pk != family.pk and int(client.session["_auth_user_id"]) == staff.pk
    assert not StaffMembership.objects.filter(user=family).exists()
    # The family member still signs in with her own password.
    own = Client()
    own.post("/accounts/login/", {"login": "amina", "password": "correct horse battery staple"})
    assert int(own.session["_auth_user_id"]) == family.pk


def test_a_directory_that_cannot_be_reached_neither_lets_in_nor_signs_out(hospital, directory, settings):
    client, _user = nurse_with_second_step()
    settings.DIRECTORY = {**settings.DIRECTORY, "LDAP_URL": "ldap://127.0.0.1:9"}
    backend.directory.cache_clear()
    page = client.get(reverse("board", args=[hospital["nicu"].pk]))
    assert page.status_code == 503 and "directory cannot be reached" in page.content.decode()
    assert signed_in(client)
    fresh = Client()
    response = sign_in(fresh, "amina")
    assert response.status_code == 200 and not signed_in(fresh)  # the sign-in form again, no error page
