"""Attack: a shared proxy or the disk cache of a shared family computer keeps pages and API answers that name a
baby, its family and their devices (`/me/`, `/babies/N/`, `/api/v1/me`, `/api/v1/devices` had no
`Cache-Control: no-store`); and the console mail backend wrote recipients' addresses into the log."""

from __future__ import annotations

import io
import os
import subprocess
import sys

from django.core.mail import get_connection, send_mail
from django.urls import reverse


def _no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


def test_pages_and_api_answers_with_personal_data_are_never_stored(world):
    fam = world.families["a"]
    parent = world.client("parent_a")
    for url in (
        reverse("profile"),
        reverse("devices"),
        reverse("baby", args=[fam.admission.pk]),
        reverse("family", args=[fam.admission.pk]),
        reverse("who_watched", args=[fam.admission.pk]),
        "/api/v1/me",
        "/api/v1/devices",
        "/api/v1/admissions",
        f"/api/v1/admissions/{fam.admission.pk}",
    ):
        response = parent.get(url)
        assert response.status_code == 200, url
        assert _no_store(response), f"{url}: {response.get('Cache-Control')!r}"
    nurse = world.client("nurse1")
    for url in (reverse("board", args=[world.unit1.pk]), reverse("bed", args=[fam.bed.pk])):
        response = nurse.get(url)
        assert response.status_code == 200 and _no_store(response), url
    assert _no_store(world.client("privacy").get(reverse("audit_search")))


def test_refusals_and_the_sign_in_page_are_not_stored_either(world):
    assert _no_store(world.client(None).get(reverse("account_login")))
    assert _no_store(world.client("parent_b").get(reverse("baby", args=[world.families["a"].admission.pk])))


def test_static_files_keep_their_own_caching(world):
    response = world.client(None).get("/static/cradle/cradle.css")
    assert response.status_code == 200 and not _no_store(response)


def test_the_console_mail_log_masks_every_recipient(settings):
    stream = io.StringIO()
    connection = get_connection("cradle.web.private.MaskedConsoleBackend", stream=stream)
    send_mail("Cradle", "A new clip is waiting in Cradle.", None,
              ["mother.of.twins@example.org", "Grandpa <grandpa@example.com>"], connection=connection)  # fmt: skip
    log = stream.getvalue()
    assert "A new clip is waiting" in log
    assert "mother.of.twins" not in log and "grandpa@example.com" not in log
    assert "m***@e***.org" in log and "Grandpa <g***@e***.com>" in log


def test_the_default_mail_backend_is_the_masked_console(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRADLE_")}
    env["CRADLE_DATA_DIR"] = str(tmp_path)
    shown = subprocess.run(  # the settings as a fresh process reads them, with nothing configured
        [sys.executable, "-c", "import cradle.settings as s; print(s.EMAIL_BACKEND)"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert shown == "cradle.web.private.MaskedConsoleBackend"
