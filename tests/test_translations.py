"""The Simplified Chinese catalogue covers every string Cradle shows, and the portal speaks it when asked.

A string marked for translation and left out of cradle/locale/zh_Hans fails the suite: run makemessages as the
README says, translate the new entries and compile (`make messages`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings

import cradle

PACKAGE = Path(cradle.__file__).resolve().parent
CATALOGUE = PACKAGE / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
# Left out of extraction as in the documented makemessages command; locale/ is left out so that the copy starts bare.
NOT_COPIED = {"media", "static", "locale"}

# %(name)s, %(n)d, %s; "%%" is a literal percent sign and is removed first.
PYTHON_FORMAT = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(?:\d+|\*)?(?:\.(?:\d+|\*))?[diouxXeEfFgGcrsa]")
TEMPLATE_VARIABLE = re.compile(r"\{\{\s*(.*?)\s*\}\}")


def _key(entry: polib.POEntry) -> tuple[str | None, str, str]:
    return entry.msgctxt, entry.msgid, entry.msgid_plural


def _translations(entry: polib.POEntry) -> list[str]:
    return list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]


def _placeholders(text: str) -> set[str]:
    without_percent = text.replace("%%", "")
    return set(PYTHON_FORMAT.findall(without_percent)) | {f"{{{{ {v} }}}}" for v in TEMPLATE_VARIABLE.findall(text)}


def _extract(tmp_path: Path) -> polib.POFile:
    """Runs makemessages on a copy of the package, so that the committed catalogue is never touched."""

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if n == "__pycache__" or n.endswith((".pyc", ".mo"))}
        return skipped | (NOT_COPIED & set(names) if Path(directory) == PACKAGE else set())

    copy = tmp_path / "cradle"
    shutil.copytree(PACKAGE, copy, ignore=ignore)
    # The real settings, but with LOCALE_PATHS inside the copy: makemessages writes its catalogue to LOCALE_PATHS[0].
    (tmp_path / "extraction_settings.py").write_text(
        "from pathlib import Path\n"
        "from cradle.settings import *  # noqa: F403\n"
        "LOCALE_PATHS = [Path(__file__).resolve().parent / 'cradle' / 'locale']\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "extraction_settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(PACKAGE.parent)]),
        "CRADLE_DATA_DIR": str(tmp_path / "var"),
        "CRADLE_SECRET_KEY": "extraction-only",
    }
    django_admin = Path(sys.executable).with_name("django-admin")
    subprocess.run(
        [str(django_admin), "makemessages", "-l", "zh_Hans", "-i", "media/*", "-i", "static/*", "-v", "0"],
        cwd=copy,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return polib.pofile(str(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"))


@pytest.mark.nodb
def test_every_string_in_the_code_has_a_chinese_translation(tmp_path: Path) -> None:
    committed_before = CATALOGUE.read_bytes()
    extracted = [e for e in _extract(tmp_path) if not e.obsolete]
    assert CATALOGUE.read_bytes() == committed_before, "extraction must not write into the committed catalogue"
    assert len(extracted) > 100, "makemessages found almost nothing; is the copy complete?"

    committed = {_key(e): e for e in polib.pofile(str(CATALOGUE)) if not e.obsolete}
    untranslated = []
    for entry in extracted:
        found = committed.get(_key(entry))
        if found is None or found.fuzzy or not all(_translations(found)):
            untranslated.append(entry.msgid)
    assert not untranslated, "Not translated in cradle/locale/zh_Hans:\n" + "\n".join(untranslated)


@pytest.mark.nodb
def test_translations_keep_every_placeholder() -> None:
    catalogue = polib.pofile(str(CATALOGUE))
    assert catalogue.metadata.get("Plural-Forms") == "nplurals=1; plural=0;"
    mismatched = []
    for entry in catalogue:
        if entry.obsolete:
            continue
        source = entry.msgid_plural or entry.msgid
        for translation in _translations(entry):
            if translation and _placeholders(translation) != _placeholders(source):
                mismatched.append(f"{entry.msgid!r} -> {translation!r}")
    assert not mismatched, "Placeholders differ:\n" + "\n".join(mismatched)


PAGES = [
    # path, English the page shows, its Chinese
    ("/accounts/login/", ["Sign in", 'aria-label="Main"'], ["登录", 'aria-label="主导航"']),
    ("/join/", ["Join your baby's page", "Invitation code"], ["加入宝宝的页面", "邀请码"]),
]


@pytest.mark.parametrize(("path", "english", "chinese"), PAGES)
@pytest.mark.parametrize("chosen_by", ["browser", "language switch"])
def test_pages_are_in_chinese_for_a_chinese_reader(client, db, path, english, chinese, chosen_by) -> None:
    if chosen_by == "browser":
        response = client.get(path, HTTP_ACCEPT_LANGUAGE="zh-hans")
    else:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
        response = client.get(path)
    page = response.content.decode()
    assert response.status_code == 200
    missing = [text for text in chinese if text not in page]
    assert not missing, f"{missing} not on {path}; is the catalogue compiled (make messages)?"
    assert not [text for text in english if text in page]


@pytest.mark.parametrize(("path", "english", "chinese"), PAGES)
def test_pages_stay_in_english_by_default(client, db, path, english, chinese) -> None:
    page = client.get(path, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert all(text in page for text in english)
    assert not [text for text in chinese if text in page]
