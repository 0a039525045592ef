"""A device as a person knows it ("Chrome on an Android phone"), from the browser's user-agent string.

"Your devices" used to show the raw string (Mozilla/5.0 (Linux; Android 14; ...) AppleWebKit/537.36 ...), which tells
a parent nothing. The order of the checks matters: Edge and Opera also say Chrome, Chrome also says Safari, and
iPad browsers may say Macintosh.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

_BROWSERS = (
    ("EdgA/", "Edge"),
    ("EdgiOS/", "Edge"),
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("MicroMessenger/", "WeChat"),
    ("UCBrowser/", "UC Browser"),
    ("HuaweiBrowser/", "Huawei Browser"),
    ("MiuiBrowser/", "Mi Browser"),
    ("CriOS/", "Chrome"),
    ("FxiOS/", "Firefox"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
)


def _system(agent: str) -> str:
    if "iPhone" in agent:
        return _("an iPhone")
    if "iPad" in agent or ("Macintosh" in agent and "Mobile/" in agent):
        return _("an iPad")
    if "Android" in agent:
        return _("an Android phone") if "Mobile" in agent else _("an Android tablet")
    if "Windows" in agent:
        return _("Windows")
    if "Macintosh" in agent or "Mac OS X" in agent:
        return _("a Mac")
    if "CrOS" in agent:
        return _("a Chromebook")
    if "Linux" in agent:
        return _("Linux")
    return ""


def describe(agent: str) -> str:
    """ "Safari on an iPhone", "Firefox on Windows", or "Unknown device" when the string says nothing useful."""
    browser = next((name for marker, name in _BROWSERS if marker in agent), "")
    system = _system(agent)
    if browser and system:
        return _("%(browser)s on %(system)s") % {"browser": browser, "system": system}
    if agent.startswith(("python-", "curl/", "okhttp/")):
        return _("An app or script (%(name)s)") % {"name": agent.split("/")[0]}
    return browser or system or _("Unknown device")
