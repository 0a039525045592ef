"""Sign-in messages a person can act on, in one language: a code already used is explained, not "Incorrect code"."""

from __future__ import annotations

from django.contrib.messages import get_messages
from django.test import Client

from tests.conftest import fresh_totp_code, sign_in_by_form


def test_a_code_used_a_moment_ago_is_explained(world):
    user = world.users["relative_a"]
    code = fresh_totp_code(user)
    first = sign_in_by_form(Client(), user.username, code=code)
    assert first.status_code == 302
    # The same code again from another device within its 30 s: refused, and told why.
    response = sign_in_by_form(Client(), user.username, code=code)
    text = response.content.decode()
    assert "This code has just been used to sign in" in text and "Incorrect code." not in text
    wrong = sign_in_by_form(Client(), user.username, code="000000" if code != "000000" else "111111")
    assert "Incorrect code." in wrong.content.decode()


def test_the_signed_in_message_is_in_one_language(world):
    user = world.users["relative_a"]
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    response = sign_in_by_form(client, user.username)
    assert response.status_code == 302
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert texts == ["您已登录。"], texts
