"""Django settings. Everything a hospital changes comes from the environment (see README, "Configuration")."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from cradle.config import AdtSettings, CradleConfig, DirectorySettings, adt_settings, directory_settings

BASE_DIR = Path(__file__).resolve().parent
# Every CRADLE_* variable, read and checked once (cradle/config.py): a wrong value stops here with one sentence.
CRADLE = CradleConfig.from_environ(os.environ, base_dir=BASE_DIR)
DATA_DIR = CRADLE.data_dir

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


def _secret_key() -> str:
    """The key that signs sessions and derives pseudonyms; kept in a 0600 file beside the data."""
    if key := CRADLE.secret_key:
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
DEBUG = CRADLE.debug
ALLOWED_HOSTS = list(CRADLE.allowed_hosts)
CSRF_TRUSTED_ORIGINS = list(CRADLE.trusted_origins)

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
HTTPS = CRADLE.https
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = CRADLE.hsts_seconds
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
TIME_ZONE = CRADLE.time_zone
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
EMAIL_BACKEND = CRADLE.email_backend
DEFAULT_FROM_EMAIL = CRADLE.from_email

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
    "root": {"handlers": ["console"], "level": CRADLE.log_level},
    # Refused look-ups are in the audit log; a line per 404 on the console would only be noise. Database outages are
    # logged once when they start and once when they end (cradle/outage.py), not per request.
    "loggers": {"django.request": {"level": "ERROR"}},
}

# Media: each admission's segments are sealed under its own data key, wrapped by this master key (mode 0600).
MASTER_KEY_FILE = CRADLE.master_key_file
MEDIA_DIR = CRADLE.media_dir
# Web Push: the VAPID key pair `cradle init` makes (cradle.notifications.webpush); without it no push is offered.
VAPID_KEY_FILE = CRADLE.vapid_key_file
# Where notifications link to (the address families open Cradle at); it names no baby.
SITE_URL = CRADLE.site_url
# Unset: sealed segments go to MEDIA_DIR. `s3://bucket?endpoint=...&region=...`: to S3-compatible object storage,
# with the wrapped data keys in the database instead of beside the media (cradle/viewing/storage.py says why).
STORAGE_URL = CRADLE.storage_url
# Edge mode (off unless CRADLE_EDGE_DIR is set): the app authorises and audits each segment fetch, then nginx sends
# an AES-128 copy from this folder (a tmpfs is best) through its internal location (cradle.viewing.edge).
EDGE_DIR = CRADLE.edge_dir
EDGE_LOCATION = CRADLE.edge_location
# Every destroyed data key is listed here, outside the database and the backups, so a restore destroys it again.
SHRED_LEDGER_FILE = CRADLE.shred_ledger_file
# Checkpoints of the audit chain's head, kept outside the database so that a rewritten or cut-off log is found
# (cradle/audit/anchor.py); with CRADLE_AUDIT_SYSLOG (a socket path such as /dev/log, or HOST:PORT for UDP) each one is
# also sent to syslog, facility authpriv.
AUDIT_ANCHOR_FILE = CRADLE.audit_anchor_file
AUDIT_SYSLOG = CRADLE.audit_syslog
# Media-fetch events wait here, fsynced, until they are in the chain: while the database refuses writes, and between
# batches (cradle/audit/spool.py). Best on another disk than the database's, so that one full disk does not stop both.
AUDIT_SPOOL_FILE = CRADLE.audit_spool_file

# The hospital's admission feed: HL7 v2 ADT over MLLP, received by `cradle adt` (cradle/integrations/adt; README,
# "For the hospital's integration team"). Checked once more when the listener starts (cradle.integrations.adt.config).
ADT: AdtSettings = adt_settings(os.environ)
# The hospital's directory for staff sign-in (cradle/integrations/directory; README, "For the hospital's integration
# team"). Off unless CRADLE_LDAP_URL or CRADLE_OIDC_ISSUER is set. Family accounts stay Cradle's own.
DIRECTORY: DirectorySettings = directory_settings(os.environ)
