"""Settings, read from the environment through small helpers.

SQLite (WAL mode) is the embedded default; DATABASE_URL switches to PostgreSQL.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

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


DEBUG = env_bool("OPENEM_DEBUG", False)
SECRET_KEY = env_str("OPENEM_SECRET_KEY", "insecure-openem-development-key-change-me-in-production")
ALLOWED_HOSTS = env_list("OPENEM_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "openem.accounts",
    "openem.audit",
    "openem.cases",
    "openem.devices",
    "openem.telemetry",
    "openem.alerts",
    "openem.portal",
    "openem.simulate",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",  # before WhiteNoise: static files carry the policy too
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
LOGIN_REDIRECT_URL = "portal:cases"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

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
]
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 8 * 3600
CSRF_COOKIE_HTTPONLY = True

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

# Scale-out: a NATS JetStream URL (nats://127.0.0.1:4222) announces new readings to partitioned workers.
OPENEM_BUS = env_str("OPENEM_BUS", "")
OPENEM_BUS_PARTITIONS = int(env_str("OPENEM_BUS_PARTITIONS", "4"))
OPENEM_BUS_PREFIX = env_str("OPENEM_BUS_PREFIX", "openem")

# Where devices send readings (shown with a new device key, as the server URL to give the device).
OPENEM_INGEST_URL = env_str("OPENEM_INGEST_URL", "http://127.0.0.1:5055").rstrip("/")

# Notifications. Without an SMTP host, email is written to files under var/mail (the demo's outbox).
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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("OPENEM_LOG_LEVEL", "WARNING")},
}
