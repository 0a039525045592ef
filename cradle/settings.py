"""Django settings. Everything a hospital changes comes from the environment (see README, "Configuration")."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("CRADLE_DATA_DIR", BASE_DIR.parent / "var")).resolve()

# Everything Cradle writes (the database and its journal, keys, sealed media, metrics, trace work files) is for
# Cradle's own user alone, whatever umask it was started with: new files 0600, new folders 0700. The systemd units
# set the same umask; this holds for `cradle demo`, a manual `cradle serve` and any WSGI server loading Cradle, since
# each of them reads these settings before it writes anything. (The edge folder, which nginx reads as another user,
# sets its own modes: cradle.viewing.edge.)
os.umask(0o077)


def _private(path: Path) -> None:
    """Takes group and world access away from a file that an older Cradle, or another umask, left open."""
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        return
    if mode & 0o077:
        path.chmod(mode & 0o700)


DATA_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)


def _env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, "1" if default else "0").strip().lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    """The key that signs sessions and derives pseudonyms; kept in a 0600 file beside the data."""
    if key := os.environ.get("CRADLE_SECRET_KEY"):
        return key
    path = DATA_DIR / "secret_key"
    if not path.exists():
        # Written whole under a name of this process's own, then linked into place: processes that start together
        # on a fresh data folder (the web server and the worker) all end up with the first one's key, and none
        # reads a half-written file.
        own = path.with_name(f".secret_key.{os.getpid()}")
        fd = os.open(own, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(50))
                f.flush()
                os.fsync(f.fileno())
            with contextlib.suppress(FileExistsError):  # another process was first: its key is the key
                os.link(own, path)
        finally:
            own.unlink(missing_ok=True)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = _env_bool("CRADLE_DEBUG")
ALLOWED_HOSTS = [h for h in os.environ.get("CRADLE_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CRADLE_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    # Only for the hospital's OpenID Connect provider (cradle/integrations/directory/provider.py): no other provider,
    # no sign-up or account linking through it.
    "allauth.socialaccount",
    "csp",
    "django_tasks",
    "django_tasks_db",
    "django_rq",
    "django_tasks_rq",
    "cradle.accounts",
    "cradle.unit",
    "cradle.audit",
    "cradle.viewing",
    "cradle.worker",
    "cradle.updates",
    "cradle.notifications",
    "cradle.forensics",
    "cradle.keystore",
    "cradle.retention",
    "cradle.integrations.adt",
    "cradle.integrations.directory",
    "cradle.web",
]

MIDDLEWARE = [
    # Answers granted segment fetches of family viewers before the rest is loaded (cradle/viewing/fastpath.py).
    "cradle.viewing.fastpath.FastSegmentMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # No answer with personal data is kept by a cache (static files keep their own caching).
    "cradle.web.private.NoStoreMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    # A database outage is a 503 that says to try again, logged once (cradle/web/unavailable.py); this notes its end.
    "cradle.web.unavailable.DatabaseOutageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # Dates in the viewer's own time zone, which the browser names (cradle/web/zone.py).
    "cradle.web.zone.TimeZoneMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "cradle.accounts.middleware.SessionPolicyMiddleware",
    # A person the hospital's directory has disabled is refused here at their next request.
    "cradle.integrations.directory.middleware.DirectoryStandingMiddleware",
    "cradle.accounts.middleware.StaffMfaMiddleware",
    # Accounts, units, beds, cameras and admissions a page creates are audited in the name of who asked.
    "cradle.audit.creation.CreationContextMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "cradle.audit.middleware.DeniedAccessMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "cradle.urls"
WSGI_APPLICATION = "cradle.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cradle.web.context.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{DATA_DIR / 'cradle.sqlite3'}"), conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Django's SQLite backend, but a connection that saw an error is not kept (cradle/web/sqlite/base.py).
    DATABASES["default"]["ENGINE"] = "cradle.web.sqlite"
    # SQLite gives its journal files the database file's mode: a database made before the umask above is closed here.
    for _suffix in ("", "-wal", "-shm"):
        _private(Path(str(DATABASES["default"]["NAME"]) + _suffix))
    # WAL lets the web processes read while the worker writes; IMMEDIATE takes the write lock up front, so that
    # concurrent writers wait their turn (up to the timeout) instead of failing half-way.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests run threads (a live server, the worker) beside the test itself: an in-memory database would lock whole
    # tables between them, so the test database is a file, locked like the real one.
    # One file per test process, so that two runs side by side never share one.
    DATABASES["default"]["TEST"] = {"NAME": str(Path(tempfile.gettempdir()) / f"cradle-test-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The cache also holds rate limits, so it must be shared by every process: the database by default, Redis at scale.
# Background work (traces, daily clips, retention; cradle/tasks.py) goes through django-tasks: a queue in the database
# that `cradle worker` runs by default, RQ on Redis (run by `cradle queue`) when Redis is there.
if redis_url := os.environ.get("REDIS_URL"):
    CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": redis_url, "KEY_PREFIX": "cradle"}}
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    RQ_QUEUES = {"default": {"URL": redis_url, "DEFAULT_TIMEOUT": 3600}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "cradle_cache"}}
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    RQ_QUEUES = {}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "allauth.account.auth_backends.AuthenticationBackend",
    # Staff sign in with their hospital directory password when CRADLE_LDAP_URL is set (cradle/integrations/directory).
    "cradle.integrations.directory.backend.DirectoryBackend",
]
# The hospital's OpenID Connect provider, when CRADLE_OIDC_ISSUER is set: its one app comes from DIRECTORY below.
SOCIALACCOUNT_ADAPTER = "cradle.integrations.directory.provider.HospitalAppAdapter"
SOCIALACCOUNT_REQUESTS_TIMEOUT = 10
PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"

# Sessions live in the database so that they can be listed and ended; the policy middleware applies each unit's
# idle timeout and absolute lifetime, and this is only the outer bound.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = 12 * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_NAME = "cradle_session"
CSRF_COOKIE_HTTPONLY = True
HTTPS = _env_bool("CRADLE_HTTPS")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = int(os.environ.get("CRADLE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "media-src": ["'self'", "blob:"],
        "worker-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = os.environ.get("CRADLE_TIME_ZONE", "UTC")
USE_TZ = True

STATIC_URL = "/static/"
# The one public part of the data folder: the stylesheet and scripts every visitor gets, which nginx sends after
# `cradle collectstatic` (readable by nginx's user, whatever Cradle's umask).
STATIC_ROOT = DATA_DIR / "static"
if not STATIC_ROOT.is_dir():
    STATIC_ROOT.mkdir()
    STATIC_ROOT.chmod(0o755)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage",
        "OPTIONS": {"file_permissions_mode": 0o644, "directory_permissions_mode": 0o755},
    },
}
STATICFILES_DIRS = [BASE_DIR / "static"]
# The embedded default serves static files straight from the package; no collectstatic step is needed.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Until the hospital names its mail server, mails go to the console, recipients masked (cradle.web.private).
EMAIL_BACKEND = os.environ.get("CRADLE_EMAIL_BACKEND", "cradle.web.private.MaskedConsoleBackend")
DEFAULT_FROM_EMAIL = os.environ.get("CRADLE_FROM_EMAIL", "cradle@localhost")

# Accounts: one identity per person, invitation only, MFA (TOTP, recovery codes, passkeys).
ACCOUNT_ADAPTER = "cradle.accounts.adapter.CradleAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_USER_MODEL_EMAIL_FIELD = "email"
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_REAUTHENTICATION_TIMEOUT = 300
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_PRESERVE_USERNAME_CASING = False
# Failed passwords and second steps are throttled by cradle.accounts.throttle: per account, with a budget of its own
# for each device that signed in to the account before, and (passwords from other devices) per address. allauth's own
# limits on these would let one person behind a hospital's shared address, or anyone who knows a password, lock the
# real owner out of their known phone, so they are off: "login" (sign-in requests per address), "login_failed" (the
# second step, per account from anywhere) and "webauthn_login" (passkey sign-ins per address: no secret to guess).
ACCOUNT_RATE_LIMITS = {"login": "", "login_failed": ""}
MFA_RATE_LIMITS = {"webauthn_login": ""}
MFA_ADAPTER = "cradle.accounts.adapter.CradleMFAAdapter"
MFA_FORMS = {
    "authenticate": "cradle.accounts.forms.SecondStepForm",
    "reauthenticate": "cradle.accounts.forms.SecondStepReauthenticateForm",
    "authenticate_webauthn": "cradle.accounts.forms.PasskeyStepForm",
    "reauthenticate_webauthn": "cradle.accounts.forms.PasskeyReauthenticateForm",
    "login_webauthn": "cradle.accounts.forms.PasskeySignInForm",
    "add_webauthn": "cradle.accounts.forms.AddPasskeyForm",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_TOTP_ISSUER = "Cradle"
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = not HTTPS

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"quiet_outages": {"()": "cradle.web.unavailable.QuietOutages"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["quiet_outages"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("CRADLE_LOG_LEVEL", "WARNING")},
    # Refused look-ups are in the audit log; a line per 404 on the console would only be noise. Database outages are
    # logged once when they start and once when they end (cradle/outage.py), not per request.
    "loggers": {"django.request": {"level": "ERROR"}},
}

# Media: each admission's segments are sealed under its own data key, wrapped by this master key (mode 0600).
MASTER_KEY_FILE = Path(os.environ.get("CRADLE_MASTER_KEY_FILE", DATA_DIR / "master.key"))
MEDIA_DIR = Path(os.environ.get("CRADLE_MEDIA_DIR", DATA_DIR / "media"))
# Web Push: the VAPID key pair `cradle init` makes (cradle.notifications.webpush); without it no push is offered.
VAPID_KEY_FILE = Path(os.environ.get("CRADLE_VAPID_KEY_FILE", DATA_DIR / "vapid.pem"))
# Where notifications link to (the address families open Cradle at); it names no baby.
SITE_URL = os.environ.get("CRADLE_SITE_URL", "http://localhost:8000").rstrip("/")
# Unset: sealed segments go to MEDIA_DIR. `s3://bucket?endpoint=...&region=...`: to S3-compatible object storage,
# with the wrapped data keys in the database instead of beside the media (cradle/viewing/storage.py says why).
STORAGE_URL = os.environ.get("CRADLE_STORAGE_URL", "").strip()
# Edge mode (off unless CRADLE_EDGE_DIR is set): the app authorises and audits each segment fetch, then nginx sends
# an AES-128 copy from this folder (a tmpfs is best) through its internal location (cradle.viewing.edge).
EDGE_DIR = Path(edge) if (edge := os.environ.get("CRADLE_EDGE_DIR")) else None
EDGE_LOCATION = "/" + os.environ.get("CRADLE_EDGE_LOCATION", "/_edge/").strip("/") + "/"
# Every destroyed data key is listed here, outside the database and the backups, so a restore destroys it again.
SHRED_LEDGER_FILE = Path(os.environ.get("CRADLE_SHRED_LEDGER_FILE", MASTER_KEY_FILE.parent / "shred.ledger"))
# Checkpoints of the audit chain's head, kept outside the database so that a rewritten or cut-off log is found
# (cradle/audit/anchor.py); with CRADLE_AUDIT_SYSLOG (a socket path such as /dev/log, or HOST:PORT for UDP) each one is
# also sent to syslog, facility authpriv.
AUDIT_ANCHOR_FILE = Path(os.environ.get("CRADLE_AUDIT_ANCHOR_FILE", MASTER_KEY_FILE.parent / "audit.anchor"))
AUDIT_SYSLOG = os.environ.get("CRADLE_AUDIT_SYSLOG", "").strip()
# Media-fetch events wait here, fsynced, until they are in the chain: while the database refuses writes, and between
# batches (cradle/audit/spool.py). Best on another disk than the database's, so that one full disk does not stop both.
AUDIT_SPOOL_FILE = Path(os.environ.get("CRADLE_AUDIT_SPOOL_FILE", MASTER_KEY_FILE.parent / "audit.spool"))

# The hospital's admission feed: HL7 v2 ADT over MLLP, received by `cradle adt` (cradle/integrations/adt; README,
# "For the hospital's integration team"). Checked once when the listener starts (cradle.integrations.adt.config).
ADT = {
    "BIND": os.environ.get("CRADLE_ADT_BIND", "127.0.0.1:2575"),
    # Addresses or networks that may connect; anything else is closed at once (and audited).
    "ALLOWED": os.environ.get("CRADLE_ADT_ALLOWED", "127.0.0.1,::1"),
    "TLS_CERT": os.environ.get("CRADLE_ADT_TLS_CERT", ""),
    "TLS_KEY": os.environ.get("CRADLE_ADT_TLS_KEY", ""),
    # With a CA file, senders must present a client certificate it signed (mutual TLS).
    "TLS_CLIENT_CA": os.environ.get("CRADLE_ADT_TLS_CLIENT_CA", ""),
    "MAX_BYTES": int(os.environ.get("CRADLE_ADT_MAX_BYTES", str(1 << 20))),
    "IDLE_SECONDS": float(os.environ.get("CRADLE_ADT_IDLE_SECONDS", "300")),
    # Where the inpatient number is: PID-3 (its first identifier, or the one of a type: "PID-3:MR"), or PV1-19.
    "PATIENT_ID": os.environ.get("CRADLE_ADT_PATIENT_ID", "PID-3"),
    # A04 (outpatient registration) and A05 (pre-admission): "admit" like A01, or "ignore" (acknowledged, no change).
    "A04": os.environ.get("CRADLE_ADT_A04", "ignore"),
    "A05": os.environ.get("CRADLE_ADT_A05", "ignore"),
    # A location with no Cradle bed: "reject" (AE, so that the table gets fixed) or "ignore" (a feed of the whole
    # hospital, where most places have no camera).
    "UNMAPPED": os.environ.get("CRADLE_ADT_UNMAPPED", "reject"),
    "PROCESSING_IDS": os.environ.get("CRADLE_ADT_PROCESSING_IDS", "P"),
}


def _secret(name: str) -> str:
    """A secret from NAME, or from the file NAME_FILE names (kept out of the environment of every process)."""
    if path := os.environ.get(f"{name}_FILE"):
        return Path(path).read_text().strip()
    return os.environ.get(name, "")


# The hospital's directory for staff sign-in (cradle/integrations/directory; README, "For the hospital's integration
# team"). Off unless CRADLE_LDAP_URL is set. Family accounts stay Cradle's own.
DIRECTORY = {
    "LDAP_URL": os.environ.get("CRADLE_LDAP_URL", ""),
    "LDAP_STARTTLS": _env_bool("CRADLE_LDAP_STARTTLS"),
    "LDAP_CA_FILE": os.environ.get("CRADLE_LDAP_CA_FILE", ""),
    "LDAP_BIND_DN": os.environ.get("CRADLE_LDAP_BIND_DN", ""),
    "LDAP_BIND_PASSWORD": _secret("CRADLE_LDAP_BIND_PASSWORD"),
    "LDAP_USER_BASE": os.environ.get("CRADLE_LDAP_USER_BASE", ""),
    # {login} is what the person types, escaped. Active Directory: (&(objectClass=user)(sAMAccountName={login})).
    "LDAP_USER_FILTER": os.environ.get("CRADLE_LDAP_USER_FILTER", "(&(objectClass=inetOrgPerson)(uid={login}))"),
    # Matches a disabled account. Active Directory: (userAccountControl:1.2.840.113556.1.4.803:=2).
    "LDAP_DISABLED_FILTER": os.environ.get("CRADLE_LDAP_DISABLED_FILTER", ""),
    # The directory's own, unchanging id of a person (Active Directory: objectGUID).
    "LDAP_ID_ATTRIBUTE": os.environ.get("CRADLE_LDAP_ID_ATTRIBUTE", "entryUUID"),
    "LDAP_NAME_ATTRIBUTE": os.environ.get("CRADLE_LDAP_NAME_ATTRIBUTE", "displayName"),
    # Groups by search ({dn} is the person's DN); without a base, the person's memberOf attribute.
    "LDAP_GROUP_BASE": os.environ.get("CRADLE_LDAP_GROUP_BASE", ""),
    "LDAP_GROUP_FILTER": os.environ.get("CRADLE_LDAP_GROUP_FILTER", "(&(objectClass=groupOfNames)(member={dn}))"),
    # Which group gives which role in which unit (cradle/integrations/directory/roles.py).
    "ROLES_FILE": os.environ.get("CRADLE_DIRECTORY_ROLES_FILE", ""),
    # 0: a directory person's standing is checked on every request; more: at most this often.
    "RECHECK_SECONDS": float(os.environ.get("CRADLE_DIRECTORY_RECHECK_SECONDS", "0")),
    # The hospital's OpenID Connect provider (cradle/integrations/directory/oidc.py): off unless the issuer is set.
    # The issuer exactly as the provider's discovery document and ID tokens name it.
    "OIDC_ISSUER": os.environ.get("CRADLE_OIDC_ISSUER", "").strip(),
    "OIDC_CLIENT_ID": os.environ.get("CRADLE_OIDC_CLIENT_ID", "").strip(),
    "OIDC_CLIENT_SECRET": _secret("CRADLE_OIDC_CLIENT_SECRET"),
    "OIDC_SCOPES": os.environ.get("CRADLE_OIDC_SCOPES", "openid profile"),
    # The claim with the person's groups or roles (a dotted path reaches into an object: realm_access.roles).
    "OIDC_GROUPS_CLAIM": os.environ.get("CRADLE_OIDC_GROUPS_CLAIM", "groups"),
    "OIDC_USERNAME_CLAIM": os.environ.get("CRADLE_OIDC_USERNAME_CLAIM", "preferred_username"),
    # What in the ID token counts as a second factor, so that Cradle's own second step is not asked again.
    "OIDC_MFA_AMR": os.environ.get("CRADLE_OIDC_MFA_AMR", "mfa,otp,hwk,swk"),
    "OIDC_MFA_ACR": os.environ.get("CRADLE_OIDC_MFA_ACR", ""),
    "OIDC_ALGORITHMS": os.environ.get("CRADLE_OIDC_ALGORITHMS", "RS256,PS256,ES256"),
}

CRADLE = {
    # Login throttling: failures allowed in the window before that key is refused until the window passes.
    "LOGIN_FAILURES_PER_ACCOUNT_DEVICE": 10,
    "LOGIN_FAILURES_PER_ACCOUNT_UNKNOWN_DEVICES": 20,
    "LOGIN_FAILURES_PER_ADDRESS": 50,
    "LOGIN_THROTTLE_WINDOW_SECONDS": 15 * 60,
    # Wrong second-step codes (after the right password) allowed per account in the same window: a 6-digit code has a
    # million values, so 5 a quarter of an hour from elsewhere leaves a guesser about 1 in 2,000 a day.
    "SECOND_STEP_FAILURES_PER_ACCOUNT_DEVICE": 10,
    "SECOND_STEP_FAILURES_PER_ACCOUNT_UNKNOWN_DEVICES": 5,
    "JOIN_FAILURES_PER_ADDRESS": 20,
    "INVITATION_HOURS": 72,
    "BREAK_GLASS_MAX_MINUTES": 60,
    "LIVE_BUFFER_SECONDS": 300,
    # Workers hold each camera under a lease this long, renewed every second; a dead worker's cameras are taken over
    # within twice this. At most this many cameras per worker (0: as many as its share of the live workers').
    "LEASE_SECONDS": float(os.environ.get("CRADLE_LEASE_SECONDS", "10")),
    "WORKER_CAMERAS": int(os.environ.get("CRADLE_WORKER_CAMERAS", "0")),
    # What one worker can redact in real time, in 640x480 15 fps cameras (a 1280x720 one counts 3): it takes no more
    # cameras than fit, leaving the rest to other workers. 0 measures nothing and takes its share (see README).
    "WORKER_CAPACITY": float(os.environ.get("CRADLE_WORKER_CAPACITY", "0")),
    # Per-camera redaction settings (shown area, static zones, ...): `<camera id>.json` in this folder, the same
    # file `cradle redact --camera-config` reads. A camera without one keeps the defaults (the whole picture).
    "CAMERA_CONFIG_DIR": os.environ.get("CRADLE_CAMERA_CONFIG_DIR", ""),
    # How often the worker holding the housekeeping lease queues the periodic background work (cradle/tasks.py).
    "DAILY_CLIPS_EVERY_SECONDS": 30,
    "RETENTION_EVERY_SECONDS": int(os.environ.get("CRADLE_RETENTION_EVERY_SECONDS", "600")),
    # Notifications waiting for quiet hours, the daily message or a retry, and cameras paused for long, are looked at
    # this often; a camera paused this long is "longer than usual" (the longest pause a nurse can choose is 30 min).
    "NOTIFY_EVERY_SECONDS": int(os.environ.get("CRADLE_NOTIFY_EVERY_SECONDS", "60")),
    "LONG_PAUSE_MINUTES": int(os.environ.get("CRADLE_LONG_PAUSE_MINUTES", "45")),
    # Who may read /metrics besides the machine itself (no proxy in between): a client that sends this bearer token.
    "METRICS_TOKEN": os.environ.get("CRADLE_METRICS_TOKEN", ""),
    "LIVE_PLAYLIST_SEGMENTS": 6,
    "LIVE_URL_SECONDS": 60,
    "CLIP_URL_SECONDS": 600,
    # Edge mode: live keys change with every epoch of the picture; clip copies stay this long after their last use.
    "EDGE_KEY_EPOCH_SECONDS": 600,
    "EDGE_CLIP_SECONDS": 3600,
    "KEEPSAKES_PER_DAY": 5,
    # /readyz reports the storage "full" below this much free space on the media's or the database's disk.
    "MIN_FREE_MB": int(os.environ.get("CRADLE_MIN_FREE_MB", "512")),
    # The browser that prints evidence reports to PDF (empty: `chromium` on the PATH).
    "CHROMIUM": os.environ.get("CRADLE_CHROMIUM", ""),
    # Retention: how long audit events are kept.
    "AUDIT_RETENTION_YEARS": float(os.environ.get("CRADLE_AUDIT_RETENTION_YEARS", "10")),
    # Segment fetches after a session's first are written to the audit chain in batches this often (0: at once).
    # Segment fetches of family viewers already authorised take the fast path (cradle/viewing/fastpath.py).
    "FAST_PATH": os.environ.get("CRADLE_FAST_PATH", "1") != "0",
    "AUDIT_BATCH_SECONDS": float(os.environ.get("CRADLE_AUDIT_BATCH_SECONDS", "0.5")),
    # Bulk-access rules: past these an account is suspended pending review (a family watches a few clips a day).
    "BULK_CLIPS_PER_HOUR": 12,
    "BULK_CONCURRENT_SESSIONS": 3,
    "BULK_ADDRESSES_PER_HOUR": 4,
    "BULK_STAFF_ADMISSIONS_PER_HOUR": 10,
}
