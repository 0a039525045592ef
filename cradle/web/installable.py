"""The installable web app: the service worker at the site's root (so that it may answer for every page) and the page
it shows when the phone is offline. The manifest and icons are plain static files.

The worker keeps the app shell only (cradle/static/cradle/sw.js says how); the list of shell files is here, and its
version is a digest of their contents, so that a new release replaces the stored copies at once.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache

from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse

# Files every page uses that name nobody; nothing else is ever stored by the worker.
SHELL_FILES = (
    "cradle/cradle.css",
    "cradle/app.js",
    "cradle/favicon.svg",
    "cradle/manifest.webmanifest",
    "cradle/icons/icon-192.png",
    "cradle/icons/icon-512.png",
    "cradle/icons/maskable-512.png",
)


def _static_file(name: str) -> str:
    found = finders.find(name)
    if not isinstance(found, str):
        raise FileNotFoundError(f"The static file {name} is missing.")
    return found


@lru_cache(maxsize=1)
def _worker() -> bytes:
    digest = hashlib.sha256()
    for name in SHELL_FILES:
        with open(_static_file(name), "rb") as f:
            digest.update(f.read())
    offline = reverse("offline")
    digest.update(offline.encode())
    shell = {
        "version": digest.hexdigest()[:16],
        "offline": offline,
        "files": [offline, *(static(name) for name in SHELL_FILES)],
    }
    with open(_static_file("cradle/sw.js"), "rb") as f:
        body = f.read()
    return f"self.CRADLE_SHELL = {json.dumps(shell)};\n".encode() + body


def service_worker(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(_worker(), content_type="text/javascript; charset=utf-8")
    # The browser looks for a new worker on every visit; no cache may hold an old one back.
    response["Cache-Control"] = "no-cache"
    return response


def offline(request: HttpRequest) -> HttpResponse:
    """Shown by the worker when a page cannot be reached: in both languages, since it is stored once for everyone."""
    response = render(request, "web/offline.html")
    # Kept by the worker only; no other cache.
    response["Cache-Control"] = "no-cache"
    return response
