"""Camera addresses: their credentials kept apart (never shown, never logged), and their failures told in words."""

from __future__ import annotations

import errno
from urllib.parse import quote, unquote, urlsplit, urlunsplit


def split_credentials(url: str) -> tuple[str, str]:
    """(the address without its user name and password, "user:password" or "") of a camera URL."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, ""
    userinfo, _, host = parts.netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    return urlunsplit(parts._replace(netloc=host)), unquote(user) + colon + unquote(password)


def with_credentials(url: str, credentials: str) -> str:
    """The address to connect to: `url` with "user:password" put back in (quoted as a URL needs)."""
    if not credentials:
        return url
    parts = urlsplit(url)
    user, _, password = credentials.partition(":")
    userinfo = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))


def without_credentials(url: str) -> str:
    """The address as it may be shown or logged."""
    return split_credentials(url)[0]


def describe_failure(error: BaseException | None, url: str) -> str:
    """Why a camera gives no picture, as one sentence a nurse or administrator can act on; never the credentials.

    `None` means the camera ended its stream by itself (a hung camera's read timeout ends up here too)."""
    if error is None:
        return "The camera stopped sending pictures; Cradle is connecting to it again."
    name = type(error).__name__
    code = getattr(error, "errno", None)
    text = str(getattr(error, "strerror", "") or error)
    if "Unauthorized" in name or "401" in text:
        return "The camera refused the user name or password; check them in the camera's settings."
    if "Forbidden" in name or "403" in text:
        return "The camera refused access to this stream; check the user's rights on the camera."
    if "NotFound" in name or "404" in text:
        return "The camera has no stream at this path; check the address (the part after the host)."
    if isinstance(error, FileNotFoundError):
        return "There is no video file at this address."
    if isinstance(error, ConnectionRefusedError) or code == errno.ECONNREFUSED:
        return "Nothing answers at this address and port; check the camera is on and the address is right."
    if "ExitError" in name or "Immediate exit" in text:  # FFmpeg's read timeout: connected, then nothing came
        return "The camera stopped sending pictures (nothing for a second); Cradle is connecting to it again."
    if isinstance(error, TimeoutError) or code == errno.ETIMEDOUT or "timed out" in text.lower():
        return "The camera did not answer in time; check it is on and reachable from the Cradle server."
    if "InvalidData" in name:
        return "The camera answered, but not with a video stream Cradle can read."
    if "resolve" in text.lower() or "Name or service" in text:
        return "The camera's host name is not known; check the address."
    if isinstance(error, ValueError):
        return "The camera address is not one Cradle can use (rtsp://, http:// or a file)."
    return "The camera could not be read; Cradle keeps trying."
