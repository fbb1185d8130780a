"""Settings for the Work Item Portal, read from the environment (and an optional .env file).

Every variable is documented in README.md. A malformed value stops start-up naming the variable.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured

from portal.client_address import trusted_proxy_settings
from portal.env import (
    BASE_DIR,
    read,
    read_bool,
    read_database_url,
    read_list,
    read_positive_int,
    read_secret,
)
from workitems.genesys.regions import resolve_bases

DEBUG = read_bool("DEBUG", False)

SECRET_KEY = read_secret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG-on"  # noqa: S105

ALLOWED_HOSTS = read_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = read_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_q",
    "csp",
    "axes",
    "audits",
    "workitems",
    # Last: its admin module replaces the admins of the apps above (portal/admin.py).
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: it turns a lock-out flagged during the view into its page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------
DATABASES = {"default": read_database_url("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a long busy timeout so the web process and the django-q2 cluster can write
    # concurrently without "database is locked" losing task results.
    _db.setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
        }
    )
else:
    # Persistent connections: a connect per request cut throughput about sixfold on PostgreSQL.
    _db["CONN_MAX_AGE"] = read("DB_CONN_MAX_AGE", "int", _db.get("CONN_MAX_AGE") or 60)
    _db["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (shared by all processes that share it: holds the Genesys token) ---------------------
REDIS_URL = read("REDIS_URL", "str", "")
if read("CACHE_URL", "str", ""):
    CACHES = {"default": read("CACHE_URL", "cache_url")}
elif REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "portal_cache",
        }
    }

# --- Auth, i18n, static -------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username+address before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-gb"
TIME_ZONE = read("TIME_ZONE", "str", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Security (production values unless DEBUG) --------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = read_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = read("SECURE_HSTS_SECONDS", "int", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every response (django-csp). Scripts only from our own origin: the
# admin and our templates load every script from a file and pass data in data- attributes or
# <script type="application/json"> blocks (tests/security/test_headers.py loads every admin page
# to keep it so). Inline *styles* are used by the admin and our templates (style="…"), and cannot
# run code, hence 'unsafe-inline' for styles only. frame-ancestors says X-Frame-Options in CSP.
_SELF, _NONE = "'self'", "'none'"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [_SELF],
        "script-src": [_SELF],
        "style-src": [_SELF, "'unsafe-inline'"],
        "img-src": [_SELF, "data:"],
        "font-src": [_SELF],
        "connect-src": [_SELF],
        "object-src": [_NONE],
        "base-uri": [_SELF],
        "form-action": [_SELF],
        "frame-ancestors": [_NONE],
    }
}
SECURE_REFERRER_POLICY = "same-origin"

# --- Login lock-out (django-axes; portal/login_lockout.py) ------------------------------------------
# AXES_FAILURE_LIMIT failed logins for one username from one address lock that pair out for
# AXES_COOLOFF_MINUTES, counted from the failure that set the lock (attempts during a lock are
# refused unchecked and do not extend it). A successful login clears the count. The username is
# the one Django authenticates (stripped, NFKC-normalised).
AXES_FAILURE_LIMIT = read_positive_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=read_positive_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "portal.login_lockout.lockout_username"
AXES_LOCKOUT_CALLABLE = "portal.login_lockout.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_VERBOSE = False  # no start-up banner in every manage.py command's output
# The client address: REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies that append to
# X-Forwarded-For, the address the outermost one saw (portal/client_address.py).
TRUSTED_PROXY_COUNT = read("TRUSTED_PROXY_COUNT", "int", 0)
try:
    _address = trusted_proxy_settings(TRUSTED_PROXY_COUNT)
except ValueError as exc:
    raise ImproperlyConfigured(f"Environment variable TRUSTED_PROXY_COUNT: {exc}") from None
AXES_IPWARE_META_PRECEDENCE_ORDER = _address["AXES_IPWARE_META_PRECEDENCE_ORDER"]
AXES_IPWARE_PROXY_COUNT = _address["AXES_IPWARE_PROXY_COUNT"]
IPWARE_STRICT = False  # a longer chain (a client-written prefix) is expected, not an error

# --- Logging: one JSON object per line on stdout ------------------------------------------------
LOG_LEVEL = read("LOG_LEVEL", "str", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "portal.logging.JsonFormatter"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
    },
}

# --- REST framework -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}

# --- django-q2 ----------------------------------------------------------------------------------
Q_CLUSTER = {
    "name": "portal",
    "workers": read_positive_int("Q_WORKERS", 2),
    "timeout": read_positive_int("Q_TIMEOUT", 300),
    # retry must exceed timeout, or a slow task is handed out twice.
    "retry": read_positive_int("Q_TIMEOUT", 300) + 60,
    "max_attempts": read_positive_int("Q_MAX_ATTEMPTS", 3),
    "catch_up": False,
    "ack_failures": True,
    "save_limit": 1000,
    "poll": 1,
    "label": "Background tasks",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
if Q_CLUSTER["retry"] <= Q_CLUSTER["timeout"]:
    raise ImproperlyConfigured("Q_TIMEOUT produced a retry not above the timeout.")

# --- Genesys Cloud ------------------------------------------------------------------------------
GENESYS_REGION = read("GENESYS_REGION", "str", "simulator" if DEBUG else "")
GENESYS_API_BASE_URL = read("GENESYS_API_BASE_URL", "str", "")
GENESYS_LOGIN_BASE_URL = read("GENESYS_LOGIN_BASE_URL", "str", "")
_SIMULATED = GENESYS_REGION.strip().lower() == "simulator"
# The simulator knows one OAuth client; a real region needs real credentials.
GENESYS_CLIENT_ID = read("GENESYS_CLIENT_ID", "str", "portal-demo-client" if _SIMULATED else "")
GENESYS_CLIENT_SECRET = read_secret(
    "GENESYS_CLIENT_SECRET", "portal-demo-client-secret" if _SIMULATED else ""
)
GENESYS_CONNECT_TIMEOUT = read("GENESYS_CONNECT_TIMEOUT", "float", 5.0)
GENESYS_READ_TIMEOUT = read("GENESYS_READ_TIMEOUT", "float", 30.0)
GENESYS_MAX_RETRIES = read("GENESYS_MAX_RETRIES", "int", 3)
# A 429 asking to wait longer than this is a daily cap: raise RateLimited instead of sleeping.
GENESYS_RETRY_AFTER_CEILING = read("GENESYS_RETRY_AFTER_CEILING", "int", 60)
GENESYS_RATE_LIMIT_PER_MINUTE = read_positive_int("GENESYS_RATE_LIMIT_PER_MINUTE", 300)
GENESYS_SYNC_MINUTES = read_positive_int("GENESYS_SYNC_MINUTES", 15)
GENESYS_MEMBER_CACHE_SECONDS = read("GENESYS_MEMBER_CACHE_SECONDS", "int", 60)
# After a create whose outcome is unknown, wait this long before looking the item up by externalTag.
SUBMIT_LOOKUP_DELAY_SECONDS = read("SUBMIT_LOOKUP_DELAY_SECONDS", "float", 2.0)
# externalTag values per IN filter of a look-up: the most Genesys takes is not documented.
SUBMIT_LOOKUP_CHUNK = read_positive_int("SUBMIT_LOOKUP_CHUNK", 20)
SUBMIT_JOB_POLL_SECONDS = read("SUBMIT_JOB_POLL_SECONDS", "float", 1.0)
# How long, in all, a submission waits for its bulk jobs; what is still unknown then is looked
# up by the resume sweep before anything is sent again.
SUBMIT_JOB_MAX_WAIT_SECONDS = read("SUBMIT_JOB_MAX_WAIT_SECONDS", "float", 300.0)
# The send claim's lease (services/send_claims.py): a run that stops renewing it for this long is
# presumed dead, and the resume may take its items over.
SUBMIT_CLAIM_SECONDS = read_positive_int("SUBMIT_CLAIM_SECONDS", 600)

# The simulator is a fake Genesys Cloud for the demo, tests and benchmarks. Mounted only when the
# portal is configured to use it.
SIMULATOR_ENABLED = _SIMULATED
SIMULATOR_BASE_URL = read("SIMULATOR_BASE_URL", "str", "http://127.0.0.1:8000/simulator")
# Where the simulator's "data action" posts work-item events: this portal's ingest endpoint.
SIMULATOR_EVENT_TARGET_URL = read(
    "SIMULATOR_EVENT_TARGET_URL", "str", "http://127.0.0.1:8000/api/genesys/events/"
)
# Query pages as short as Genesys allows: the first empty (with `after`), the rest one short.
SIMULATOR_SHORT_PAGES = read_bool("SIMULATOR_SHORT_PAGES", True)
# A queued bulk add job runs this long after it was started (simulator clock).
SIMULATOR_BULK_JOB_SECONDS = read("SIMULATOR_BULK_JOB_SECONDS", "float", 2.0)
# Entities per bulk job ([DEV] "a minimum of 1 and a maximum of 50 workitem entities").
SIMULATOR_BULK_MAX_ENTITIES = read_positive_int("SIMULATOR_BULK_MAX_ENTITIES", 50)
SIMULATOR_RATE_LIMIT_PER_MINUTE = read_positive_int("SIMULATOR_RATE_LIMIT_PER_MINUTE", 300)
# Token lifetime: Genesys's default, 24 hours.
SIMULATOR_TOKEN_SECONDS = read_positive_int("SIMULATOR_TOKEN_SECONDS", 86400)
# How long an injected timeout hangs over real HTTP: past the portal's default 30 s read timeout.
SIMULATOR_TIMEOUT_SECONDS = read("SIMULATOR_TIMEOUT_SECONDS", "float", 35.0)
# OAuth clients the simulator knows besides GENESYS_CLIENT_ID: comma-separated id:secret pairs.
SIMULATOR_CLIENTS = read_secret("SIMULATOR_CLIENTS")
if SIMULATOR_ENABLED:
    INSTALLED_APPS.append("simulator")
try:
    GENESYS_API_BASE, GENESYS_LOGIN_BASE = resolve_bases(
        region=GENESYS_REGION,
        api_override=GENESYS_API_BASE_URL,
        login_override=GENESYS_LOGIN_BASE_URL,
        simulator_base=SIMULATOR_BASE_URL,
    )
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from None

# --- Ingest, downstream, SLA --------------------------------------------------------------------
# The simulator posts events with a demo secret; anything real must set its own.
INGEST_SECRETS = [
    s.strip()
    for s in read_secret("INGEST_SECRETS", "demo-ingest-secret" if SIMULATOR_ENABLED else "").split(
        ","
    )
    if s.strip()
]
INGEST_BASIC_AUTH = [s.strip() for s in read_secret("INGEST_BASIC_AUTH").split(",") if s.strip()]
INGEST_MAX_BODY_BYTES = read_positive_int("INGEST_MAX_BODY_BYTES", 256 * 1024)
# A failing event is retried this many times (with back-off) before it stays failed for replay.
EVENT_MAX_ATTEMPTS = read_positive_int("EVENT_MAX_ATTEMPTS", 5)
# The retry back-off of a failing event: base·2^(attempts-1) seconds, capped.
EVENT_BACKOFF_BASE_SECONDS = read("EVENT_BACKOFF_BASE_SECONDS", "float", 5.0)
EVENT_BACKOFF_MAX_SECONDS = read("EVENT_BACKOFF_MAX_SECONDS", "float", 3600.0)
# An event whose dateModified is further ahead of our clock than this is refused (400): applied,
# it would make every later event for the item look stale.
EVENT_FUTURE_SKEW_SECONDS = read_positive_int("EVENT_FUTURE_SKEW_SECONDS", 86400)
DOWNSTREAM_URL = read(
    "DOWNSTREAM_URL", "str", "http://127.0.0.1:8000/demo-receiver/" if SIMULATOR_ENABLED else ""
)
# Standard Webhooks form: whsec_<base64>. Several, comma-separated, during a rotation: all sign.
DOWNSTREAM_SIGNING_SECRET = read_secret(
    "DOWNSTREAM_SIGNING_SECRET",
    "whsec_ZGVtby1zaWduaW5nLXNlY3JldC1mb3Itc2ltdWxhdG9y" if SIMULATOR_ENABLED else "",
)
DOWNSTREAM_MAX_ATTEMPTS = read_positive_int("DOWNSTREAM_MAX_ATTEMPTS", 8)
DOWNSTREAM_TIMEOUT_SECONDS = read("DOWNSTREAM_TIMEOUT_SECONDS", "float", 10.0)
DOWNSTREAM_BACKOFF_BASE_SECONDS = read("DOWNSTREAM_BACKOFF_BASE_SECONDS", "float", 5.0)
DOWNSTREAM_BACKOFF_MAX_SECONDS = read("DOWNSTREAM_BACKOFF_MAX_SECONDS", "float", 3600.0)
SLA_DEFAULT_SECONDS = read_positive_int("SLA_DEFAULT_SECONDS", 3600)
# Open items with no change for this long are fetched from Genesys (a lost event heals itself).
RECONCILE_AFTER_MINUTES = read_positive_int("RECONCILE_AFTER_MINUTES", 30)
# /readyz reports "degraded" when the SLA sweep has not run for longer than this.
HEALTH_SLA_SWEEP_MAX_AGE_SECONDS = read_positive_int("HEALTH_SLA_SWEEP_MAX_AGE_SECONDS", 300)
# /metrics (workitems/views/metrics.py) answers only `Authorization: Bearer <METRICS_TOKEN>`;
# unset, /metrics is 404. Several tokens, comma-separated, allow a rotation without a gap.
METRICS_TOKENS = [t.strip() for t in read_secret("METRICS_TOKEN").split(",") if t.strip()]
