"""Settings, read from the environment through small helpers.

SQLite (WAL mode) is the embedded default; DATABASE_URL switches to PostgreSQL.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# The demo (`make demo`, `openem demo-setup`, `openem run --demo-live`) and the test suite may run with the
# shipped secret key and without two-factor sign-in; anything else is production and refuses to start
# unsafe (openem.safety, called by every entry point).
OPENEM_DEMO = env_bool("OPENEM_DEMO", False)
# pytest (8.2 and later) sets PYTEST_VERSION before it loads anything, pytest-django's settings included.
OPENEM_TESTING = bool(os.environ.get("PYTEST_VERSION"))
# `openem bench` sets this for itself and the processes it starts: they use throwaway databases only.
OPENEM_BENCH = env_bool("OPENEM_BENCH", False)
SHIPPED_SECRET_KEY = "insecure-openem-development-key-change-me-in-production"

DEBUG = env_bool("OPENEM_DEBUG", False)
SECRET_KEY = env_str("OPENEM_SECRET_KEY", SHIPPED_SECRET_KEY)
# Django's test client sends Host: testserver; only the test suite accepts it.
ALLOWED_HOSTS = env_list("OPENEM_ALLOWED_HOSTS", "127.0.0.1,localhost" + (",testserver" if OPENEM_TESTING else ""))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "openem.accounts",
    "openem.audit",
    "openem.cases",
    "openem.devices",
    "openem.telemetry",
    "openem.alerts",
    "openem.health",
    "openem.assessments",
    "openem.crime",
    "openem.portal",
    "openem.reports",
    "openem.simulate",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # /healthz, /readyz and /metrics answer here, before sessions, sign-in and the audit (openem.health).
    "openem.health.middleware.health_endpoints",
    "csp.middleware.CSPMiddleware",  # before WhiteNoise: static files carry the policy too
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Below whitenoise, so static files keep their long caching; everything else is personal data.
    "openem.accounts.middleware.no_store",
    "openem.accounts.middleware.session_limits",
    "openem.accounts.middleware.two_factor",
    "openem.accounts.middleware.audit_refusals",
    # Last: it turns a lockout raised inside the sign-in view into our sign-in page (status 429).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "openem.urls"
WSGI_APPLICATION = "openem.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "openem" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "openem.portal.context.portal",
                "openem.health.context.service_status",
            ],
        },
    },
]

DATA_DIR = Path(env_str("OPENEM_DATA_DIR", str(BASE_DIR / "var")))
DATABASE_URL = env_str("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("OPENEM_SQLITE_PATH", str(DATA_DIR / "openem.sqlite3")),
            # WAL lets the engine write while the portal reads. The page cache (128 MB, allocated only as
            # used) holds the hot ends of the per-device indexes: with SQLite's default 2 MB, storing a
            # reading costs three times as much once the tables outgrow it. The ingest receiver checkpoints
            # the write-ahead log every second from a thread of its own; the larger automatic threshold
            # (40 MB) keeps other writers' commits (the engine's violations) from doing it for it.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-131072; "
                "PRAGMA wal_autocheckpoint=10000;",
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"  # then where the role works (User.home_url_name)
LOGOUT_REDIRECT_URL = "login"

AUTHENTICATION_BACKENDS = [
    # Axes first: it refuses a locked-out account or address before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "openem.accounts.passwords.NotMadeFromNamesValidator"},
]

# Sign-in throttling (django-axes): failures are counted per account and, separately, per address; either
# reaching its limit refuses sign-in until the cool-off has passed since the last failure. The address limit
# is higher because an office signs in from one address.
OPENEM_SIGNIN_ACCOUNT_LIMIT = int(env_str("OPENEM_SIGNIN_ACCOUNT_LIMIT", "5"))
OPENEM_SIGNIN_ADDRESS_LIMIT = int(env_str("OPENEM_SIGNIN_ADDRESS_LIMIT", "20"))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = OPENEM_SIGNIN_ACCOUNT_LIMIT  # the address limit is scaled to it: openem.accounts.signin
AXES_HANDLER = "openem.accounts.signin.SignInAttempts"
AXES_COOLOFF_TIME = timedelta(minutes=int(env_str("OPENEM_SIGNIN_LOCKOUT_MINUTES", "15")))
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "openem.accounts.signin.lockout_response"
AXES_VERBOSE = False
AXES_DISABLE_ACCESS_LOG = True  # sign-ins are in our audit log; axes' own log would be a second, unkept copy
# The client's address, for throttling and the sign-in audit (openem.accounts.signin.client_ip): REMOTE_ADDR,
# or behind OPENEM_PROXY_COUNT reverse proxies of ours (OPENEM_BEHIND_PROXY=1) the X-Forwarded-For entry the
# outermost of them added (entries left of it are whatever the client sent, and are ignored).
AXES_CLIENT_IP_CALLABLE = "openem.accounts.signin.client_ip"
OPENEM_BEHIND_PROXY = env_bool("OPENEM_BEHIND_PROXY", False)
OPENEM_PROXY_COUNT = int(env_str("OPENEM_PROXY_COUNT", "1"))
if OPENEM_PROXY_COUNT < 1:
    raise ImproperlyConfigured(
        f"OPENEM_PROXY_COUNT is {OPENEM_PROXY_COUNT}: it counts the reverse proxies in front of OpenEM that add "
        "to X-Forwarded-For, at least 1 (leave OPENEM_BEHIND_PROXY unset if there are none)"
    )
if OPENEM_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Two-factor sign-in (TOTP, django-otp): required for these roles outside the demo, optional for others.
OPENEM_OTP_REQUIRED_ROLES: tuple[str, ...] = (
    () if OPENEM_DEMO else tuple(env_list("OPENEM_OTP_REQUIRED_ROLES", "administrator,operator"))
)
OTP_TOTP_ISSUER = env_str("OPENEM_OTP_ISSUER", "OpenEM")

# Sessions end after this long without a request, and in any case SESSION_COOKIE_AGE after sign-in.
OPENEM_IDLE_MINUTES = int(env_str("OPENEM_IDLE_MINUTES", "30"))
# Live pages refresh themselves this often; a refresh is audited at most once per user, record and
# OPENEM_LIVE_AUDIT_MINUTES, and is never activity for the idle limit (openem.portal.live).
OPENEM_LIVE_SECONDS = int(env_str("OPENEM_LIVE_SECONDS", "10"))
OPENEM_LIVE_AUDIT_MINUTES = int(env_str("OPENEM_LIVE_AUDIT_MINUTES", "15"))

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Front-end packages come from npm at set-up time and are served straight from node_modules.
NODE_MODULES = BASE_DIR / "node_modules"
STATICFILES_DIRS = [
    ("govuk", NODE_MODULES / "govuk-frontend" / "dist" / "govuk"),
    ("leaflet", NODE_MODULES / "leaflet" / "dist"),
    ("htmx", NODE_MODULES / "htmx.org" / "dist"),
    # Drawing and editing zones on the map (the condition form). Its toolbar icons are data: SVGs in its
    # stylesheet, which img-src already allows; it needs no inline script or style attribute.
    ("geoman", NODE_MODULES / "@geoman-io" / "leaflet-geoman-free" / "dist"),
]
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 8 * 3600
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Served over HTTPS (OPENEM_HTTPS=1): cookies only over HTTPS, HSTS for a year, plain HTTP redirected.
OPENEM_HTTPS = env_bool("OPENEM_HTTPS", False)
if OPENEM_HTTPS:
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    # Load balancers probe health over plain HTTP inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = 365 * 24 * 3600
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("OPENEM_HSTS_PRELOAD", False)
    if not SECURE_HSTS_PRELOAD:
        # Joining browsers' preload list binds the whole domain to HTTPS for good: the domain owner's decision,
        # made with OPENEM_HSTS_PRELOAD=1, not a default.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]

# Maps work offline: zones are vector layers from our own data; a tile server is optional.
OPENEM_TILE_URL = env_str("OPENEM_TILE_URL", "")
OPENEM_TILE_ATTRIBUTION = env_str("OPENEM_TILE_ATTRIBUTION", "")


# Content-Security-Policy on every response (django-csp). No inline script, no eval, no inline style:
# labels from data can never run, even if a template forgot to escape one. Map tiles, when a tile server
# is set, are the only images from elsewhere. docs/operations.md, "Web security".
def _tile_origin(url: str) -> list[str]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return []
    # Leaflet's {s} subdomain placeholder becomes CSP's leftmost-label wildcard.
    return [f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}"]


CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", *_tile_origin(OPENEM_TILE_URL)],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# How long data is kept after a person's last order ends, in months, by kind (enforced by `openem retention`).
OPENEM_RETENTION_MONTHS = {
    "readings": int(env_str("OPENEM_RETAIN_READINGS_MONTHS", "12")),  # trails and all device readings
    "violations": int(env_str("OPENEM_RETAIN_VIOLATIONS_MONTHS", "72")),
}
OPENEM_RETAIN_REJECTED_DAYS = int(env_str("OPENEM_RETAIN_REJECTED_DAYS", "90"))
# Crime matching (docs/crime-hub.md): police crime data and everything matched against it (findings, reviews,
# reports, ad-hoc searches) are deleted this many days after the batch arrived, by `openem retention`.
OPENEM_CRIME_RETENTION_DAYS = int(env_str("OPENEM_CRIME_RETENTION_DAYS", "365"))
# Each force's area (GeoJSON, one feature per force, properties.force): an analyst searches only inside theirs.
OPENEM_CRIME_FORCE_AREAS = Path(
    env_str("OPENEM_CRIME_FORCE_AREAS", str(BASE_DIR / "openem" / "crime" / "data" / "force_areas.geojson"))
)
# People ruled out (or with gaps) are named for a crime only when their trail came within this many metres of
# it (or, with no position in the window, their home is): the rest of the country's wearers are only counted.
OPENEM_CRIME_RULED_OUT_WITHIN_M = float(env_str("OPENEM_CRIME_RULED_OUT_WITHIN_M", "10000"))
# An ad-hoc search ("who was near this place between these times") covers at most this many hours.
OPENEM_CRIME_SEARCH_MAX_HOURS = int(env_str("OPENEM_CRIME_SEARCH_MAX_HOURS", "24"))
# A crime (batch row or ad-hoc search) starting more than this many days ago is refused: trails are not
# kept for ever, and matching old crimes is a fishing trip. A batch holds at most this many rows (split it).
OPENEM_CRIME_MAX_AGE_DAYS = int(env_str("OPENEM_CRIME_MAX_AGE_DAYS", "365"))
OPENEM_CRIME_MAX_ROWS = int(env_str("OPENEM_CRIME_MAX_ROWS", "2000"))

# Crime matching (openem/crime, docs/crime.md "Parameters"): a person is near a crime when a position's
# confidence circle comes within this many metres of its location during its window widened by this many
# minutes each side; fixes further apart than the gap, or implying a straight line faster than the speed,
# are not interpolated. A run records these with the version; change the version when changing a value.
OPENEM_CRIME_DISTANCE_M = float(env_str("OPENEM_CRIME_DISTANCE_M", "100"))
OPENEM_CRIME_BUFFER_MIN = float(env_str("OPENEM_CRIME_BUFFER_MIN", "30"))
OPENEM_CRIME_MAX_SPEED_KMH = float(env_str("OPENEM_CRIME_MAX_SPEED_KMH", "160"))
OPENEM_CRIME_MAX_GAP_MIN = float(env_str("OPENEM_CRIME_MAX_GAP_MIN", "5"))
OPENEM_CRIME_MAX_ACCURACY_M = float(env_str("OPENEM_CRIME_MAX_ACCURACY_M", "100"))
OPENEM_CRIME_PARAMS_VERSION = env_str("OPENEM_CRIME_PARAMS_VERSION", "crime-match/1")

# Scale-out: a NATS JetStream URL (nats://127.0.0.1:4222) announces new readings to partitioned workers.
OPENEM_BUS = env_str("OPENEM_BUS", "")
OPENEM_BUS_PARTITIONS = int(env_str("OPENEM_BUS_PARTITIONS", "4"))
OPENEM_BUS_PREFIX = env_str("OPENEM_BUS_PREFIX", "openem")

# MQTT: the broker the subscriber reads device messages from (mqtt://127.0.0.1:1883); empty: no subscriber.
OPENEM_MQTT = env_str("OPENEM_MQTT", "")
if OPENEM_MQTT and not OPENEM_MQTT.startswith("mqtt://"):
    raise ImproperlyConfigured(
        f"OPENEM_MQTT is {OPENEM_MQTT!r}: it should look like mqtt://127.0.0.1:1883 (or be empty)"
    )

# The portal's production server (gunicorn, started by `openem run`): worker processes, threads in each, and
# the seconds a request may take before its worker is replaced. docs/operations.md, "Running".
OPENEM_WEB_WORKERS = int(env_str("OPENEM_WEB_WORKERS", "2"))
OPENEM_WEB_THREADS = int(env_str("OPENEM_WEB_THREADS", "4"))
OPENEM_WEB_TIMEOUT = int(env_str("OPENEM_WEB_TIMEOUT", "30"))

# Health (openem.health): evaluation later than this many seconds is degraded and /readyz answers 503; the
# components /readyz requires to be up; a bearer token /metrics asks for when set (open without one: the
# metrics hold no personal data); how long a page may reuse the service status it last assessed.
OPENEM_MAX_LAG_S = float(env_str("OPENEM_MAX_LAG_S", "300"))
OPENEM_READY_REQUIRES = env_list("OPENEM_READY_REQUIRES", "engine,alerts")
OPENEM_METRICS_TOKEN = env_str("OPENEM_METRICS_TOKEN", "")
OPENEM_STATUS_CACHE_S = 0.0 if OPENEM_TESTING else float(env_str("OPENEM_STATUS_CACHE_S", "5"))

# Where devices send readings (shown with a new device key, as the server URL to give the device).
# Device data's front door (openem/telemetry/frontdoor.py; docs/operations.md): what one request may carry,
# how much one transaction stores, and how fast one sender may send before it is answered 429.
OPENEM_INGEST_MAX_LINES = int(env_str("OPENEM_INGEST_MAX_LINES", "10000"))
OPENEM_INGEST_MAX_BODY_BYTES = int(env_str("OPENEM_INGEST_MAX_BODY_BYTES", str(20 * 1024 * 1024)))
OPENEM_INGEST_ROWS_PER_COMMIT = int(env_str("OPENEM_INGEST_ROWS_PER_COMMIT", "10000"))
OPENEM_INGEST_GATEWAY_LINES_PER_S = float(env_str("OPENEM_INGEST_GATEWAY_LINES_PER_S", "100000"))
OPENEM_INGEST_GATEWAY_BURST_LINES = float(env_str("OPENEM_INGEST_GATEWAY_BURST_LINES", "200000"))
OPENEM_INGEST_DEVICE_REQUESTS_PER_S = float(env_str("OPENEM_INGEST_DEVICE_REQUESTS_PER_S", "1000"))
OPENEM_INGEST_DEVICE_BURST_REQUESTS = float(env_str("OPENEM_INGEST_DEVICE_BURST_REQUESTS", "2000"))
OPENEM_INGEST_UNAUTHENTICATED_LINES_PER_S = float(env_str("OPENEM_INGEST_UNAUTHENTICATED_LINES_PER_S", "2000"))
OPENEM_INGEST_UNAUTHENTICATED_BURST_LINES = float(env_str("OPENEM_INGEST_UNAUTHENTICATED_BURST_LINES", "5000"))
OPENEM_INGEST_URL = env_str("OPENEM_INGEST_URL", "http://127.0.0.1:5055").rstrip("/")

# Notifications. Without an SMTP host, email is written to files under var/mail (the demo's outbox).
# Domestic-abuse and safeguarding checks are due this many working days after they are asked for.
OPENEM_CHECK_DUE_WORKING_DAYS = int(env_str("OPENEM_CHECK_DUE_WORKING_DAYS", "10"))
# A proposed curfew address closer than this to a victim's home, a place recorded for them or an exclusion
# zone on the person's orders is flagged on the assessment (issue 17).
OPENEM_VICTIM_WARNING_M = float(env_str("OPENEM_VICTIM_WARNING_M", "1000"))
# An exclusion zone made from a victim's home when an order is made from the assessment: this radius.
OPENEM_VICTIM_ZONE_M = float(env_str("OPENEM_VICTIM_ZONE_M", "500"))
# Management information (docs/mi.md): cells counting fewer than this many are shown as "fewer than N";
# the refresh runs every OPENEM_MI_REFRESH_MINUTES under `openem run`.
OPENEM_MI_SUPPRESS_BELOW = int(env_str("OPENEM_MI_SUPPRESS_BELOW", "10"))
OPENEM_MI_REFRESH_MINUTES = float(env_str("OPENEM_MI_REFRESH_MINUTES", "60"))
# The key research extracts' pseudonyms are made with (HMAC-SHA256): held by OpenEM, never given out. A file
# of its own (made on first use, readable by OpenEM only) unless OPENEM_RESEARCH_KEY gives it.
OPENEM_RESEARCH_KEY = env_str("OPENEM_RESEARCH_KEY", "")
OPENEM_RESEARCH_KEY_FILE = Path(env_str("OPENEM_RESEARCH_KEY_FILE", str(DATA_DIR / "research.key")))
# The monitoring centre's telephone number, printed on the wearer's information sheet.
OPENEM_CENTRE_PHONE = env_str("OPENEM_CENTRE_PHONE", "0800 000 0000" if OPENEM_DEMO else "")
OPENEM_BASE_URL = env_str("OPENEM_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
OPENEM_NOTIFY_FROM = env_str("OPENEM_NOTIFY_FROM", "openem@localhost")
OPENEM_NOTIFY_API_KEY = env_str("OPENEM_NOTIFY_API_KEY", "")
OPENEM_NOTIFY_TEMPLATE_ID = env_str("OPENEM_NOTIFY_TEMPLATE_ID", "")
OPENEM_NOTIFY_BASE_URL = env_str("OPENEM_NOTIFY_BASE_URL", "https://api.notifications.service.gov.uk")
OPENEM_DIGEST_HOUR = int(env_str("OPENEM_DIGEST_HOUR", "8"))  # local time
if env_str("OPENEM_SMTP_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env_str("OPENEM_SMTP_HOST")
    EMAIL_PORT = int(env_str("OPENEM_SMTP_PORT", "25"))
    EMAIL_HOST_USER = env_str("OPENEM_SMTP_USER")
    EMAIL_HOST_PASSWORD = env_str("OPENEM_SMTP_PASSWORD")
    EMAIL_USE_TLS = env_bool("OPENEM_SMTP_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(DATA_DIR / "mail")

# Device keys travel in URLs (Traccar Client's server URL): every line logged has them taken out.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"device_keys": {"()": "openem.telemetry.redact.RedactDeviceKeys"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["device_keys"]}},
    "loggers": {
        # Django's warning for every request answered 4xx names its path; filtered where it is made, so
        # every handler (and a test's capture) gets it without the key.
        "django.request": {"filters": ["device_keys"]},
        # The development server's access log (`openem runserver`; `openem run` serves with gunicorn).
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False, "filters": ["device_keys"]},
        # `openem run`: each child started, stopped and restarted.
        "openem.health.supervisor": {"level": "INFO"},
    },
    "root": {"handlers": ["console"], "level": env_str("OPENEM_LOG_LEVEL", "WARNING")},
}
