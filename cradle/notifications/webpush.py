"""Web Push without a third party: VAPID (RFC 8292) to say who sends, and the message encrypted for the browser
(RFC 8291, "aes128gcm" of RFC 8188), so that the push service carries only ciphertext.

The VAPID key pair is made by `cradle init` and kept beside the master key; without it, Cradle offers no push.
"""

from __future__ import annotations

import base64
import os
import struct
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

RECORD_SIZE = 4096
TTL_SECONDS = 24 * 3600


class PushError(Exception):
    """A push could not be delivered; `gone` when the subscription no longer exists (404/410)."""

    def __init__(self, message: str, gone: bool = False) -> None:
        super().__init__(message)
        self.gone = gone


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def create_keys(path: Path) -> bool:
    """Writes a new VAPID private key (PEM, mode 0600) unless one exists; gives whether it wrote one."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return True


def load_key(path: Path) -> ec.EllipticCurvePrivateKey | None:
    if not path.exists():
        return None
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} is not an EC private key")
    return key


def _raw_public(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def public_key(key: ec.EllipticCurvePrivateKey) -> str:
    """The application server key a browser subscribes with (base64url of the uncompressed point)."""
    return b64url(_raw_public(key.public_key()))


def _hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    h = hmac.HMAC(prk, hashes.SHA256())
    h.update(info + b"\x01")
    return h.finalize()[:length]


def _hmac(key: bytes, data: bytes) -> bytes:
    h = hmac.HMAC(key, hashes.SHA256())
    h.update(data)
    return h.finalize()


def encrypt(plaintext: bytes, p256dh: str, auth: str, *, salt: bytes | None = None, sender=None) -> bytes:
    """The aes128gcm body of one push message for the subscription's keys (RFC 8291 section 3.4)."""
    ua_public_raw = unb64url(p256dh)
    auth_secret = unb64url(auth)
    if len(ua_public_raw) != 65 or len(auth_secret) != 16:
        raise PushError("the subscription's keys are malformed")
    ua_public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), ua_public_raw)
    sender = sender or ec.generate_private_key(ec.SECP256R1())
    as_public_raw = _raw_public(sender.public_key())
    salt = salt or os.urandom(16)
    shared = sender.exchange(ec.ECDH(), ua_public)
    prk_key = _hmac(auth_secret, shared)
    ikm = _hkdf_expand(prk_key, b"WebPush: info\x00" + ua_public_raw + as_public_raw, 32)
    prk = _hmac(salt, ikm)
    cek = _hkdf_expand(prk, b"Content-Encoding: aes128gcm\x00", 16)
    nonce = _hkdf_expand(prk, b"Content-Encoding: nonce\x00", 12)
    if len(plaintext) + 17 > RECORD_SIZE:
        raise PushError("the push message is too long for one record")
    ciphertext = AESGCM(cek).encrypt(nonce, plaintext + b"\x02", None)
    header = salt + struct.pack("!IB", RECORD_SIZE, len(as_public_raw)) + as_public_raw
    return header + ciphertext


def vapid_header(key: ec.EllipticCurvePrivateKey, endpoint: str, contact: str) -> str:
    parts = urlsplit(endpoint)
    claims = {"aud": f"{parts.scheme}://{parts.netloc}", "exp": int(time.time()) + 12 * 3600, "sub": contact}
    token = jwt.encode(claims, key, algorithm="ES256")
    return f"vapid t={token}, k={public_key(key)}"


def allowed_endpoint(endpoint: str) -> bool:
    """Push services are reached over HTTPS; plain HTTP only on this machine (a local test service)."""
    parts = urlsplit(endpoint)
    if parts.scheme == "https" and parts.hostname:
        return True
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")


def send(key, endpoint: str, p256dh: str, auth: str, payload: bytes, contact: str, timeout: float = 10.0) -> None:
    """Posts one encrypted message to the push service; PushError when it is refused or cannot be reached."""
    if not allowed_endpoint(endpoint):
        raise PushError("the push endpoint is not an HTTPS address", gone=True)
    body = encrypt(payload, p256dh, auth)
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        endpoint,
        data=body,
        method="POST",
        headers={
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(TTL_SECONDS),
            "Urgency": "normal",
            "Authorization": vapid_header(key, endpoint, contact),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            response.read()
    except urllib.error.HTTPError as e:
        raise PushError(f"the push service answered {e.code}", gone=e.code in (404, 410)) from None
    except (urllib.error.URLError, OSError) as e:
        raise PushError(f"the push service could not be reached: {e}") from None
