"""The evidence report as a PDF, printed by the same headless Chromium that the browser tests use.

The report page is self-contained (thumbnails are data URIs), so Chromium reads one local file with the stylesheet
inlined, scripts removed and the network unused; nothing leaves the server.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.utils.translation import gettext as _

TIMEOUT_SECONDS = 60
_STYLESHEET = re.compile(r'<link rel="stylesheet" href="[^"]*">')
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.S)


class PdfError(Exception):
    """The PDF could not be made; the message says why in one sentence."""


def chromium() -> str | None:
    configured = settings.CRADLE.chromium
    return configured if configured else shutil.which("chromium")


def print_pdf(html: str) -> bytes:
    """The page printed to A4 PDF bytes; raises PdfError when Chromium is missing or fails."""
    browser = chromium()
    if browser is None or not Path(browser).exists():
        raise PdfError(_("Chromium is not installed on this server, so the report cannot be printed to PDF."))
    css_path = finders.find("cradle/cradle.css")
    css = Path(css_path).read_text() if css_path else ""
    page = _SCRIPT.sub("", _STYLESHEET.sub(lambda _: f"<style>{css}</style>", html, count=1))
    with tempfile.TemporaryDirectory(prefix="cradle-pdf-") as folder:
        source, target = Path(folder) / "report.html", Path(folder) / "report.pdf"
        source.write_text(page, encoding="utf-8")
        command = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-extensions",
            f"--user-data-dir={folder}/profile",
            "--no-pdf-header-footer",
            f"--print-to-pdf={target}",
            source.as_uri(),
        ]
        try:
            subprocess.run(command, capture_output=True, timeout=TIMEOUT_SECONDS, check=False)  # noqa: S603
        except subprocess.TimeoutExpired as e:
            raise PdfError(_("Chromium did not print the report in time; try again or download the JSON.")) from e
        data = target.read_bytes() if target.exists() else b""
    if not data.startswith(b"%PDF"):
        raise PdfError(_("Chromium could not print the report; download the JSON or print the page instead."))
    return data
