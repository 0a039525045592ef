"""A real, parseable WebAuthn registration made with a software key, for tests that need a passkey on record."""

from __future__ import annotations

import hashlib
import os

from cryptography.hazmat.primitives.asymmetric import ec
from fido2.cose import ES256
from fido2.utils import websafe_encode
from fido2.webauthn import (
    Aaguid,
    AttestationObject,
    AttestedCredentialData,
    AuthenticatorData,
    CollectedClientData,
)


def registration(rp_id: str = "testserver", origin: str = "http://testserver") -> dict:
    key = ec.generate_private_key(ec.SECP256R1())
    cred_id = os.urandom(16)
    acd = AttestedCredentialData.create(Aaguid.NONE, cred_id, ES256.from_cryptography_key(key.public_key()))
    flags = AuthenticatorData.FLAG.UP | AuthenticatorData.FLAG.AT
    auth_data = AuthenticatorData.create(hashlib.sha256(rp_id.encode()).digest(), flags, 0, acd)
    attestation = AttestationObject.create("none", auth_data, {})
    client_data = CollectedClientData.create(
        type=CollectedClientData.TYPE.CREATE, challenge=os.urandom(16), origin=origin
    )
    return {
        "id": websafe_encode(cred_id),
        "rawId": websafe_encode(cred_id),
        "type": "public-key",
        "response": {
            "clientDataJSON": websafe_encode(bytes(client_data)),
            "attestationObject": websafe_encode(bytes(attestation)),
        },
        "clientExtensionResults": {},
    }
