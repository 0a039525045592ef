"""Small secrets stored in the database (TOTP keys), sealed with AES-256-GCM under a key derived from SECRET_KEY."""

from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

PREFIX = "sealed1:"


def _key(purpose: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"cradle.secretbox.{purpose}".encode())
    return hkdf.derive(settings.SECRET_KEY.encode())


def seal(text: str, purpose: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_key(purpose)).encrypt(nonce, text.encode(), purpose.encode())
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(value: str, purpose: str) -> str:
    if not value.startswith(PREFIX):
        return value  # stored before sealing was introduced
    raw = base64.urlsafe_b64decode(value[len(PREFIX) :])
    return AESGCM(_key(purpose)).decrypt(raw[:12], raw[12:], purpose.encode()).decode()
