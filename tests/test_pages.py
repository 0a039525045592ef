"""What every page promises: security headers, no outside assets, two languages, a phone-sized layout."""

from __future__ import annotations

import re
from pathlib import Path

from django.urls import reverse

TEMPLATES = Path(__file__).resolve().parents[1] / "cradle" / "templates"


def test_pages_carry_a_strict_content_security_policy_and_framing_ban(world):
    for client, url in (
        (world.client(None), reverse("account_login")),
        (world.client("parent_a"), reverse("baby", args=[world.families["a"].admission.pk])),
        (world.client("nurse1"), reverse("board", args=[world.unit1.pk])),
    ):
        response = client.get(url)
        csp = response["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
        assert 'name="viewport"' in response.content.decode()


def test_templates_load_nothing_from_elsewhere_and_run_no_inline_script():
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        assert not re.search(r'(src|href)="(https?:)?//', text), f"{path} loads an outside asset"
        for tag in re.findall(r"<script[^>]*>", text):
            assert "src=" in tag or "application/json" in tag, f"{path} has an inline script"
        assert " style=" not in text and "<style" not in text, f"{path} has inline styles"
        assert re.search(r"<[a-z][^>{]*\son[a-z]+=", text) is None, f"{path} has an inline event handler"


def test_the_language_switch_turns_pages_chinese(world):
    client = world.client("parent_a")
    url = reverse("baby", args=[world.families["a"].admission.pk])
    assert "Who watched" in client.get(url).content.decode()
    client.post(reverse("set_language"), {"language": "zh-hans", "next": url})
    body = client.get(url).content.decode()
    assert "Who watched" not in body and 'lang="zh-hans"' in body


def test_family_without_a_second_factor_are_asked_on_every_page(world):
    from allauth.mfa.models import Authenticator

    Authenticator.objects.filter(user=world.users["relative_a"]).delete()
    body = world.client("relative_a").get(reverse("baby", args=[world.families["a"].admission.pk])).content
    assert b"add a second sign-in step" in body
    body = world.client("parent_a").get(reverse("baby", args=[world.families["a"].admission.pk])).content
    assert b"add a second sign-in step" not in body  # parent A has a passkey


def test_hsts_is_sent_once_configured(world, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    response = world.client(None).get(reverse("account_login"), secure=True)
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
