"""Cradle's own configuration: every `CRADLE_*` environment variable, read once at start-up, typed and checked.

A hospital configures Cradle through the environment (README, "Configuration"). Each variable is read here and
nowhere else, so that a mistyped value ("ture", a negative lease, a time zone that does not exist) stops the process at
start-up with one sentence naming the variable, instead of being taken silently or failing hours later in a worker.
`cradle.settings` builds one `CradleConfig` as `settings.CRADLE` and derives Django's own settings from it; the code
reads its attributes (`settings.CRADLE.lease_seconds`). It is frozen: a test that needs another value replaces the
whole object, `settings.CRADLE = dataclasses.replace(settings.CRADLE, lease_seconds=1.0)`.

This module imports nothing of Django, so that the media core's commands can read their variables through it too.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TypedDict, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# The largest video file `cradle redact` takes by default; anything beyond is a mistake or an attack.
REDACT_MAX_BYTES = 64 * 2**30
TRACE_UPLOAD_MAX_BYTES = 512 * 1024**2


class ConfigError(ValueError):
    """A variable with a value Cradle cannot use; the message is one sentence that names it."""


class Environment:
    """Typed reads of the environment; each raises ConfigError with one sentence when the value does not fit."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def raw(self, name: str) -> str | None:
        return self._environ.get(name)

    def text(self, name: str, default: str = "") -> str:
        value = self._environ.get(name)
        return default if value is None else value.strip()

    def flag(self, name: str, default: bool = False) -> bool:
        value = self._environ.get(name)
        if value is None or not value.strip():
            return default
        word = value.strip().lower()
        if word in TRUE:
            return True
        if word in FALSE:
            return False
        raise ConfigError(f"{name} must be 1, 0, true, false, yes, no, on or off, not {value!r}.")

    def integer(self, name: str, default: int, *, low: int | None = None, high: int | None = None) -> int:
        value = self._environ.get(name)
        if value is None or not value.strip():
            return default
        try:
            number = int(value.strip())
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, not {value!r}.") from None
        return _within(name, number, low, high)

    def number(self, name: str, default: float, *, low: float | None = None, high: float | None = None) -> float:
        value = self._environ.get(name)
        if value is None or not value.strip():
            return default
        try:
            number = float(value.strip())
        except ValueError:
            raise ConfigError(f"{name} must be a number, not {value!r}.") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ConfigError(f"{name} must be a finite number, not {value!r}.")
        return _within(name, number, low, high)

    def path(self, name: str, default: Path) -> Path:
        value = self.text(name)
        return Path(value) if value else default

    def names(self, name: str, default: str) -> tuple[str, ...]:
        """A comma-separated list, empty items left out."""
        return tuple(item.strip() for item in self.text(name, default).split(",") if item.strip())

    def secret(self, name: str) -> str:
        """A secret from NAME, or from the file NAME_FILE names (kept out of the environment of every process)."""
        if path := self.text(f"{name}_FILE"):
            try:
                return Path(path).read_text().strip()
            except OSError as e:
                raise ConfigError(f"{name}_FILE names {path}, which cannot be read ({e.strerror}).") from None
        return self._environ.get(name, "")


N = TypeVar("N", int, float)


def _within(name: str, number: N, low: N | None, high: N | None) -> N:
    if low is not None and number < low:
        raise ConfigError(f"{name} must be at least {low}, not {number}.")
    if high is not None and number > high:
        raise ConfigError(f"{name} must be at most {high}, not {number}.")
    return number


def _time_zone(env: Environment) -> str:
    name = env.text("CRADLE_TIME_ZONE", "UTC")
    if name == "UTC":
        return name  # (known without the system's time zone database)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"CRADLE_TIME_ZONE must name a time zone such as Europe/Berlin, not {name!r}.") from None
    return name


def _log_level(env: Environment) -> str:
    level = env.text("CRADLE_LOG_LEVEL", "WARNING").upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"CRADLE_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {level!r}.")
    return level


def _site_url(env: Environment) -> str:
    url = env.text("CRADLE_SITE_URL", "http://localhost:8000").rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"CRADLE_SITE_URL must start with https:// or http://, not {url!r}.")
    return url


@dataclasses.dataclass(frozen=True, kw_only=True)
class CradleConfig:
    """Everything Cradle reads from the environment, and the product's own limits; see README, "Configuration"."""

    # Where Cradle keeps its data; the files below default to places in it.
    data_dir: Path
    secret_key: str = dataclasses.field(default="", repr=False)  # empty: the key file in the data folder
    debug: bool = False
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost")
    trusted_origins: tuple[str, ...] = ()
    https: bool = False
    hsts_seconds: int = 0
    time_zone: str = "UTC"
    log_level: str = "WARNING"
    email_backend: str = "cradle.web.private.MaskedConsoleBackend"
    from_email: str = "cradle@localhost"
    master_key_file: Path
    media_dir: Path
    vapid_key_file: Path
    site_url: str = "http://localhost:8000"
    storage_url: str = ""
    edge_dir: Path | None = None
    edge_location: str = "/_edge/"
    shred_ledger_file: Path
    audit_anchor_file: Path
    audit_syslog: str = ""
    audit_spool_file: Path
    # `cradle serve` and `cradle worker`.
    bind: str = "127.0.0.1:8000"
    workers: int = 1
    threads: int = 1
    proxy: str = ""
    worker_metrics_bind: str = ""

    # Login throttling: failures allowed in the window before that key is refused until the window passes.
    login_failures_per_account_device: int = 10
    login_failures_per_account_unknown_devices: int = 20
    login_failures_per_address: int = 50
    login_throttle_window_seconds: int = 15 * 60
    # Wrong second-step codes (after the right password) allowed per account in the same window: a 6-digit code has a
    # million values, so 5 a quarter of an hour from elsewhere leaves a guesser about 1 in 2,000 a day.
    second_step_failures_per_account_device: int = 10
    second_step_failures_per_account_unknown_devices: int = 5
    join_failures_per_address: int = 20
    invitation_hours: int = 72
    break_glass_max_minutes: int = 60
    live_buffer_seconds: int = 300
    # Workers hold each camera under a lease this long, renewed every second; a dead worker's cameras are taken over
    # within twice this. At most this many cameras per worker (0: as many as its share of the live workers').
    lease_seconds: float = 10.0
    worker_cameras: int = 0
    # What one worker can redact in real time, in 640x480 15 fps cameras (a 1280x720 one counts 3): it takes no more
    # cameras than fit, leaving the rest to other workers. 0 measures nothing and takes its share (see README).
    worker_capacity: float = 0.0
    # Camera processes one `cradle worker` runs (0: one per core), each a worker of its own with the capacity above:
    # a camera's Python work holds the interpreter lock, so one process cannot use more than about one core for it.
    worker_processes: int = 1
    # Per-camera redaction settings (shown area, static zones, ...): `<camera id>.json` in this folder, the same
    # file `cradle redact --camera-config` reads. A camera without one keeps the defaults (the whole picture).
    camera_config_dir: str = ""
    # How often the worker holding the housekeeping lease queues the periodic background work (cradle/tasks.py).
    daily_clips_every_seconds: int = 30
    retention_every_seconds: int = 600
    # Notifications waiting for quiet hours, the daily message or a retry, and cameras paused for long, are looked at
    # this often; a camera paused this long is "longer than usual" (the longest pause a nurse can choose is 30 min).
    notify_every_seconds: int = 60
    long_pause_minutes: int = 45
    # Who may read /metrics besides the machine itself (no proxy in between): a client that sends this bearer token.
    metrics_token: str = dataclasses.field(default="", repr=False)
    live_playlist_segments: int = 6
    live_url_seconds: int = 60
    clip_url_seconds: int = 600
    # Edge mode: live keys change with every epoch of the picture; clip copies stay this long after their last use.
    edge_key_epoch_seconds: int = 600
    edge_clip_seconds: int = 3600
    keepsakes_per_day: int = 5
    # /readyz reports the storage "full" below this much free space on the media's or the database's disk.
    min_free_mb: int = 512
    # The browser that prints evidence reports to PDF (empty: `chromium` on the PATH).
    chromium: str = ""
    # Retention: how long audit events are kept.
    audit_retention_years: float = 10.0
    # Segment fetches of family viewers already authorised take the fast path (cradle/viewing/fastpath.py).
    fast_path: bool = True
    # Segment fetches after a session's first are written to the audit chain in batches this often (0: at once).
    audit_batch_seconds: float = 0.5
    # Trace jobs: the largest upload, and (tests, the demo) whether jobs run in a thread of the web process instead
    # of the background queue.
    trace_upload_max_bytes: int = TRACE_UPLOAD_MAX_BYTES
    trace_in_process: bool = False
    # Bulk-access rules: past these an account is suspended pending review (a family watches a few clips a day).
    bulk_clips_per_hour: int = 12
    bulk_concurrent_sessions: int = 3
    bulk_addresses_per_hour: int = 4
    bulk_staff_admissions_per_hour: int = 10

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None, *, base_dir: Path | None = None) -> CradleConfig:
        """Reads and checks every variable; raises ConfigError with one sentence on the first that is wrong."""
        env = Environment(os.environ if environ is None else environ)
        base = base_dir or Path(__file__).resolve().parent
        data_dir = env.path("CRADLE_DATA_DIR", base.parent / "var").resolve()
        master_key_file = env.path("CRADLE_MASTER_KEY_FILE", data_dir / "master.key")
        edge_dir = env.text("CRADLE_EDGE_DIR")
        return cls(
            data_dir=data_dir,
            secret_key=env.raw("CRADLE_SECRET_KEY") or "",
            debug=env.flag("CRADLE_DEBUG"),
            allowed_hosts=env.names("CRADLE_ALLOWED_HOSTS", "127.0.0.1,localhost"),
            trusted_origins=env.names("CRADLE_TRUSTED_ORIGINS", ""),
            https=env.flag("CRADLE_HTTPS"),
            hsts_seconds=env.integer("CRADLE_HSTS_SECONDS", 0, low=0),
            time_zone=_time_zone(env),
            log_level=_log_level(env),
            email_backend=env.text("CRADLE_EMAIL_BACKEND", "cradle.web.private.MaskedConsoleBackend"),
            from_email=env.text("CRADLE_FROM_EMAIL", "cradle@localhost"),
            master_key_file=master_key_file,
            media_dir=env.path("CRADLE_MEDIA_DIR", data_dir / "media"),
            vapid_key_file=env.path("CRADLE_VAPID_KEY_FILE", data_dir / "vapid.pem"),
            site_url=_site_url(env),
            storage_url=env.text("CRADLE_STORAGE_URL"),
            edge_dir=Path(edge_dir) if edge_dir else None,
            edge_location="/" + env.text("CRADLE_EDGE_LOCATION", "/_edge/").strip("/") + "/",
            shred_ledger_file=env.path("CRADLE_SHRED_LEDGER_FILE", master_key_file.parent / "shred.ledger"),
            audit_anchor_file=env.path("CRADLE_AUDIT_ANCHOR_FILE", master_key_file.parent / "audit.anchor"),
            audit_syslog=env.text("CRADLE_AUDIT_SYSLOG"),
            audit_spool_file=env.path("CRADLE_AUDIT_SPOOL_FILE", master_key_file.parent / "audit.spool"),
            bind=env.text("CRADLE_BIND", "127.0.0.1:8000"),
            workers=env.integer("CRADLE_WORKERS", (os.cpu_count() or 1) + 1, low=1, high=256),
            threads=env.integer("CRADLE_THREADS", 1, low=1, high=256),
            proxy=env.text("CRADLE_PROXY"),
            worker_metrics_bind=env.text("CRADLE_WORKER_METRICS_BIND"),
            lease_seconds=env.number("CRADLE_LEASE_SECONDS", 10.0, low=1.0, high=3600.0),
            worker_cameras=env.integer("CRADLE_WORKER_CAMERAS", 0, low=0),
            worker_capacity=env.number("CRADLE_WORKER_CAPACITY", 0.0, low=0.0),
            worker_processes=env.integer("CRADLE_WORKER_PROCESSES", 1, low=0, high=64),
            camera_config_dir=env.text("CRADLE_CAMERA_CONFIG_DIR"),
            retention_every_seconds=env.integer("CRADLE_RETENTION_EVERY_SECONDS", 600, low=1),
            notify_every_seconds=env.integer("CRADLE_NOTIFY_EVERY_SECONDS", 60, low=1),
            long_pause_minutes=env.integer("CRADLE_LONG_PAUSE_MINUTES", 45, low=1),
            metrics_token=env.text("CRADLE_METRICS_TOKEN"),
            min_free_mb=env.integer("CRADLE_MIN_FREE_MB", 512, low=0),
            chromium=env.text("CRADLE_CHROMIUM"),
            audit_retention_years=env.number("CRADLE_AUDIT_RETENTION_YEARS", 10.0, low=1.0, high=100.0),
            fast_path=env.flag("CRADLE_FAST_PATH", True),
            audit_batch_seconds=env.number("CRADLE_AUDIT_BATCH_SECONDS", 0.5, low=0.0, high=60.0),
        )


def redact_max_bytes(environ: Mapping[str, str] | None = None) -> int:
    """The largest input `cradle redact` takes (the media command runs without the settings)."""
    env = Environment(os.environ if environ is None else environ)
    return env.integer("CRADLE_REDACT_MAX_BYTES", REDACT_MAX_BYTES, low=1)


class AdtSettings(TypedDict):
    """The admission feed's variables, checked further when `cradle adt` starts (cradle.integrations.adt.config)."""

    BIND: str
    ALLOWED: str
    TLS_CERT: str
    TLS_KEY: str
    TLS_CLIENT_CA: str
    MAX_BYTES: int
    IDLE_SECONDS: float
    PATIENT_ID: str
    A04: str
    A05: str
    UNMAPPED: str
    PROCESSING_IDS: str


def adt_settings(environ: Mapping[str, str] | None = None) -> AdtSettings:
    env = Environment(os.environ if environ is None else environ)
    return {
        "BIND": env.text("CRADLE_ADT_BIND", "127.0.0.1:2575"),
        # Addresses or networks that may connect; anything else is closed at once (and audited).
        "ALLOWED": env.text("CRADLE_ADT_ALLOWED", "127.0.0.1,::1"),
        "TLS_CERT": env.text("CRADLE_ADT_TLS_CERT"),
        "TLS_KEY": env.text("CRADLE_ADT_TLS_KEY"),
        # With a CA file, senders must present a client certificate it signed (mutual TLS).
        "TLS_CLIENT_CA": env.text("CRADLE_ADT_TLS_CLIENT_CA"),
        "MAX_BYTES": env.integer("CRADLE_ADT_MAX_BYTES", 1 << 20, low=4096),
        "IDLE_SECONDS": env.number("CRADLE_ADT_IDLE_SECONDS", 300.0, low=1.0),
        # Where the inpatient number is: PID-3 (its first identifier, or the one of a type: "PID-3:MR"), or PV1-19.
        "PATIENT_ID": env.text("CRADLE_ADT_PATIENT_ID", "PID-3"),
        # A04 (outpatient registration) and A05 (pre-admission): "admit" like A01, or "ignore" (acknowledged).
        "A04": env.text("CRADLE_ADT_A04", "ignore"),
        "A05": env.text("CRADLE_ADT_A05", "ignore"),
        # A location with no Cradle bed: "reject" (AE, so that the table gets fixed) or "ignore" (a feed of the whole
        # hospital, where most places have no camera).
        "UNMAPPED": env.text("CRADLE_ADT_UNMAPPED", "reject"),
        "PROCESSING_IDS": env.text("CRADLE_ADT_PROCESSING_IDS", "P"),
    }


class DirectorySettings(TypedDict):
    """The hospital's directory (LDAP) and OpenID Connect provider; see cradle.integrations.directory."""

    LDAP_URL: str
    LDAP_STARTTLS: bool
    LDAP_CA_FILE: str
    LDAP_BIND_DN: str
    LDAP_BIND_PASSWORD: str
    LDAP_USER_BASE: str
    LDAP_USER_FILTER: str
    LDAP_DISABLED_FILTER: str
    LDAP_ID_ATTRIBUTE: str
    LDAP_NAME_ATTRIBUTE: str
    LDAP_GROUP_BASE: str
    LDAP_GROUP_FILTER: str
    ROLES_FILE: str
    RECHECK_SECONDS: float
    OIDC_ISSUER: str
    OIDC_CLIENT_ID: str
    OIDC_CLIENT_SECRET: str
    OIDC_SCOPES: str
    OIDC_GROUPS_CLAIM: str
    OIDC_USERNAME_CLAIM: str
    OIDC_MFA_AMR: str
    OIDC_MFA_ACR: str
    OIDC_ALGORITHMS: str


def directory_settings(environ: Mapping[str, str] | None = None) -> DirectorySettings:
    env = Environment(os.environ if environ is None else environ)
    return {
        "LDAP_URL": env.text("CRADLE_LDAP_URL"),
        "LDAP_STARTTLS": env.flag("CRADLE_LDAP_STARTTLS"),
        "LDAP_CA_FILE": env.text("CRADLE_LDAP_CA_FILE"),
        "LDAP_BIND_DN": env.text("CRADLE_LDAP_BIND_DN"),
        "LDAP_BIND_PASSWORD": env.secret("CRADLE_LDAP_BIND_PASSWORD"),
        "LDAP_USER_BASE": env.text("CRADLE_LDAP_USER_BASE"),
        # {login} is what the person types, escaped. Active Directory: (&(objectClass=user)(sAMAccountName={login})).
        "LDAP_USER_FILTER": env.text("CRADLE_LDAP_USER_FILTER", "(&(objectClass=inetOrgPerson)(uid={login}))"),
        # Matches a disabled account. Active Directory: (userAccountControl:1.2.840.113556.1.4.803:=2).
        "LDAP_DISABLED_FILTER": env.text("CRADLE_LDAP_DISABLED_FILTER"),
        # The directory's own, unchanging id of a person (Active Directory: objectGUID).
        "LDAP_ID_ATTRIBUTE": env.text("CRADLE_LDAP_ID_ATTRIBUTE", "entryUUID"),
        "LDAP_NAME_ATTRIBUTE": env.text("CRADLE_LDAP_NAME_ATTRIBUTE", "displayName"),
        # Groups by search ({dn} is the person's DN); without a base, the person's memberOf attribute.
        "LDAP_GROUP_BASE": env.text("CRADLE_LDAP_GROUP_BASE"),
        "LDAP_GROUP_FILTER": env.text("CRADLE_LDAP_GROUP_FILTER", "(&(objectClass=groupOfNames)(member={dn}))"),
        # Which group gives which role in which unit (cradle/integrations/directory/roles.py).
        "ROLES_FILE": env.text("CRADLE_DIRECTORY_ROLES_FILE"),
        # 0: a directory person's standing is checked on every request; more: at most this often.
        "RECHECK_SECONDS": env.number("CRADLE_DIRECTORY_RECHECK_SECONDS", 0.0, low=0.0),
        # The hospital's OpenID Connect provider (cradle/integrations/directory/oidc.py): off unless the issuer is set.
        # The issuer exactly as the provider's discovery document and ID tokens name it.
        "OIDC_ISSUER": env.text("CRADLE_OIDC_ISSUER"),
        "OIDC_CLIENT_ID": env.text("CRADLE_OIDC_CLIENT_ID"),
        "OIDC_CLIENT_SECRET": env.secret("CRADLE_OIDC_CLIENT_SECRET"),
        "OIDC_SCOPES": env.text("CRADLE_OIDC_SCOPES", "openid profile"),
        # The claim with the person's groups or roles (a dotted path reaches into an object: realm_access.roles).
        "OIDC_GROUPS_CLAIM": env.text("CRADLE_OIDC_GROUPS_CLAIM", "groups"),
        "OIDC_USERNAME_CLAIM": env.text("CRADLE_OIDC_USERNAME_CLAIM", "preferred_username"),
        # What in the ID token counts as a second factor, so that Cradle's own second step is not asked again.
        "OIDC_MFA_AMR": env.text("CRADLE_OIDC_MFA_AMR", "mfa,otp,hwk,swk"),
        "OIDC_MFA_ACR": env.text("CRADLE_OIDC_MFA_ACR"),
        "OIDC_ALGORITHMS": env.text("CRADLE_OIDC_ALGORITHMS", "RS256,PS256,ES256"),
    }
