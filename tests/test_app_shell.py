"""The installable app (manifest, icons, a service worker for the app shell only), night colours, text sizes.

The service worker is the one piece of Cradle that lives on in the phone between visits, so what it may keep is an
allow-list of files that name nobody; tests/e2e/states_walk.mjs checks in Chromium that it answers nothing else.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse
from PIL import Image

from cradle.web import installable


def _shell(body: str) -> dict:
    first = body.splitlines()[0]
    assert first.startswith("self.CRADLE_SHELL = ") and first.endswith(";")
    return json.loads(first.removeprefix("self.CRADLE_SHELL = ").removesuffix(";"))


def test_the_service_worker_keeps_only_the_app_shell(world):
    response = Client().get(reverse("service_worker"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/javascript")
    assert response["Cache-Control"] == "no-cache"
    shell = _shell(response.content.decode())
    assert shell["offline"] == reverse("offline")
    media = re.compile(r"\.m3u8|\.ts$|\.key$|/v/|/keepsakes/|/api/|/clips/|/babies/|status\.json")
    assert shell["files"] and not [f for f in shell["files"] if media.search(f)]
    assert all(f == reverse("offline") or f.startswith("/static/cradle/") for f in shell["files"])
    # Every file is there for a browser without cookies, as the worker fetches them.
    anonymous = Client()
    for path in shell["files"]:
        if path.startswith("/static/"):
            assert finders.find(path.removeprefix("/static/")), path
        else:
            assert anonymous.get(path).status_code == 200, path
    # The version changes with the files, so that a new release replaces what phones keep.
    assert re.fullmatch(r"[0-9a-f]{16}", shell["version"])


def test_the_offline_page_names_nobody_even_for_a_signed_in_parent(world):
    page = world.client("parent_a").get(reverse("offline")).content.decode()
    fam = world.families["a"]
    for personal in (fam.parent.display_name, fam.parent.username, fam.admission.label, "Sign out"):
        assert personal not in page
    assert "You are offline" in page and "您目前处于离线状态" in page


def test_the_manifest_makes_cradle_installable():
    manifest = json.loads(Path(finders.find("cradle/manifest.webmanifest")).read_text(encoding="utf-8"))
    assert manifest["start_url"] == "/" and manifest["scope"] == "/" and manifest["display"] == "standalone"
    sizes = {}
    for icon in manifest["icons"]:
        path = finders.find(icon["src"].removeprefix("/static/"))
        with Image.open(path) as image:
            assert f"{image.width}x{image.height}" == icon["sizes"]
        sizes.setdefault(icon["purpose"], set()).add(icon["sizes"])
    assert {"192x192", "512x512"} <= sizes["any"] and "512x512" in sizes["maskable"]


def test_every_page_links_the_manifest_and_registers_the_worker(world):
    page = world.client("parent_a").get(reverse("baby", args=[world.families["a"].admission.pk])).content.decode()
    assert 'rel="manifest"' in page and f'data-worker="{reverse("service_worker")}"' in page
    assert "/static/cradle/app.js" in page


def test_the_worker_and_shell_obey_the_strict_content_security_policy(world):
    response = Client().get(reverse("service_worker"))
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "worker-src 'self'" in policy
    body = response.content.decode()
    # No code from elsewhere and no eval in the worker.
    assert "importScripts" not in body and "eval(" not in body and "http" not in body.split("\n", 1)[1]


@pytest.mark.parametrize("choice", ["dark", "light"])
def test_colours_can_be_chosen_and_default_to_the_devices(world, choice):
    parent = world.client("parent_a")
    baby = reverse("baby", args=[world.families["a"].admission.pk])
    assert "data-theme=" not in parent.get(baby).content.decode()
    response = parent.post(reverse("set_theme"), {"theme": choice, "next": baby})
    assert response["Location"] == baby
    page = parent.get(baby).content.decode()
    assert f'data-theme="{choice}"' in page and f'value="{choice}" aria-pressed="true"' in page
    parent.post(reverse("set_theme"), {"theme": "auto", "next": baby})
    assert "data-theme=" not in parent.get(baby).content.decode()


def test_choosing_colours_never_sends_anyone_elsewhere(world):
    response = Client().post(reverse("set_theme"), {"theme": "dark", "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_the_stylesheet_has_night_colours_and_sizes_that_follow_the_browser():
    css = Path(finders.find("cradle/cradle.css")).read_text(encoding="utf-8")
    assert "prefers-color-scheme: dark" in css and ':root[data-theme="dark"]' in css
    assert "prefers-reduced-motion: reduce" in css
    # No text size in pixels: a person who asks their browser for larger text gets it.
    assert not re.findall(r"font-size:\s*[\d.]+px", css)
    assert not re.findall(r"font:[^;]*\b[\d.]+px", css)


def test_the_shell_files_are_the_ones_every_page_uses():
    for name in installable.SHELL_FILES:
        assert finders.find(name), name
