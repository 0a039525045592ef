"""The admission feed's settings (settings.ADT, from CRADLE_ADT_* variables), checked once when the listener starts."""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cradle.integrations.adt.mllp import Network

# What each A04/A05 setting does with the message.
TREATMENTS = {"admit", "ignore"}


class ConfigError(ValueError):
    """A setting of the feed is wrong; the message is one sentence naming the variable."""


@dataclass(frozen=True)
class PatientId:
    """Where the inpatient number is: PID-3 (the identifier of `type_code`, or the first) or PV1-19."""

    field: str
    type_code: str = ""


@dataclass(frozen=True)
class FeedConfig:
    host: str
    port: int
    allowed: tuple[Network, ...]
    tls: ssl.SSLContext | None
    max_bytes: int
    idle_seconds: float
    patient_id: PatientId
    treatments: dict[str, str]  # A04, A05 -> admit | ignore
    ignore_unmapped: bool
    processing_ids: frozenset[str]


def _bind(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(f"CRADLE_ADT_BIND must be HOST:PORT, such as 127.0.0.1:2575, not {value!r}.")
    return host, int(port)


def _allowed(value: str) -> tuple[Network, ...]:
    networks = []
    for item in (v.strip() for v in value.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"CRADLE_ADT_ALLOWED holds {item!r}, which is not an address or network.") from None
    if not networks:
        raise ConfigError("CRADLE_ADT_ALLOWED is empty: name the address of the hospital's interface engine.")
    return tuple(networks)


def _tls(cert: str, key: str, client_ca: str) -> ssl.SSLContext | None:
    if not cert and not key:
        if client_ca:
            raise ConfigError("CRADLE_ADT_TLS_CLIENT_CA needs CRADLE_ADT_TLS_CERT and CRADLE_ADT_TLS_KEY too.")
        return None
    if not cert or not key:
        raise ConfigError("Set both CRADLE_ADT_TLS_CERT and CRADLE_ADT_TLS_KEY, or neither.")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
        if client_ca:
            context.load_verify_locations(client_ca)
            context.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as e:
        what = client_ca if client_ca and Path(cert).is_file() and Path(key).is_file() else f"{cert} or {key}"
        raise ConfigError(f"The feed's TLS files cannot be used ({what}: {e.__class__.__name__}).") from None
    return context


def _patient_id(value: str) -> PatientId:
    field, _, type_code = value.strip().upper().partition(":")
    if field not in {"PID-3", "PV1-19"} or (type_code and field != "PID-3"):
        raise ConfigError(f"CRADLE_ADT_PATIENT_ID must be PID-3, PID-3:TYPE (e.g. PID-3:MR) or PV1-19, not {value!r}.")
    return PatientId(field, type_code)


def load(values: dict[str, Any]) -> FeedConfig:
    """Reads and checks settings.ADT; raises ConfigError with the first thing that is wrong."""
    treatments = {}
    for event in ("A04", "A05"):
        treatment = str(values[event]).strip().lower()
        if treatment not in TREATMENTS:
            raise ConfigError(f"CRADLE_ADT_{event} must be admit or ignore, not {values[event]!r}.")
        treatments[event] = treatment
    unmapped = str(values["UNMAPPED"]).strip().lower()
    if unmapped not in {"reject", "ignore"}:
        raise ConfigError(f"CRADLE_ADT_UNMAPPED must be reject or ignore, not {values['UNMAPPED']!r}.")
    if int(values["MAX_BYTES"]) < 4096:
        raise ConfigError("CRADLE_ADT_MAX_BYTES must be at least 4096.")
    host, port = _bind(str(values["BIND"]))
    return FeedConfig(
        host=host,
        port=port,
        allowed=_allowed(str(values["ALLOWED"])),
        tls=_tls(values["TLS_CERT"], values["TLS_KEY"], values["TLS_CLIENT_CA"]),
        max_bytes=int(values["MAX_BYTES"]),
        idle_seconds=float(values["IDLE_SECONDS"]),
        patient_id=_patient_id(str(values["PATIENT_ID"])),
        treatments=treatments,
        ignore_unmapped=unmapped == "ignore",
        processing_ids=frozenset(p.strip().upper() for p in str(values["PROCESSING_IDS"]).split(",") if p.strip()),
    )
