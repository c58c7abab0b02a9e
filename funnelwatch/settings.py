"""Django settings, read from the environment. See the README's configuration section."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from funnelwatch.lib.env import (
    envbool,
    envint,
    envlist,
    envsecret,
    envstr,
    envtime,
    private_dir,
    private_file,
    stored_secret,
)

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(envstr("FUNNELWATCH_DATA_DIR", "./data")).resolve()

DEBUG = envbool("DEBUG", False)
SECRET_KEY = envsecret("SECRET_KEY") or stored_secret(DATA_DIR, "secret_key")
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = envstr("SITE_URL", "http://127.0.0.1:8000")
# Reverse proxies in front of the web server (addresses or networks): only from these is
# X-Forwarded-For believed when deciding a request's address (webhook allow-lists, login
# throttling). Empty: the connecting address is the client's.
FUNNELWATCH_TRUSTED_PROXIES = envlist("FUNNELWATCH_TRUSTED_PROXIES", [])
# /api/docs and /api/openapi.json for anyone (default: signed-in users and API tokens).
FUNNELWATCH_PUBLIC_API_DOCS = envbool("FUNNELWATCH_PUBLIC_API_DOCS", False)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "csp",
    # Operations (backups, health, monitoring). Before django_tasks_db: its ``db_worker``
    # (the same worker, with a heartbeat) is the one the command line runs.
    "funnelwatch.ops",
    "django_tasks",
    "django_tasks_db",
    "axes",
    # Funnelwatch: one app per domain (docs/architecture.md). Order matters for the demo generator.
    "funnelwatch.core",
    "funnelwatch.accounts",
    "funnelwatch.audit",
    "funnelwatch.crm",
    "funnelwatch.plans",
    "funnelwatch.telephony",
    "funnelwatch.mail",
    "funnelwatch.quality",
    "funnelwatch.metrics",
    "funnelwatch.reports",
    "funnelwatch.alerts",
    "funnelwatch.leads",
    "funnelwatch.clients",
    "funnelwatch.motivation",
    "funnelwatch.skills",
    "funnelwatch.handoffs",
    "funnelwatch.imports",
    "funnelwatch.home",
]

MIDDLEWARE = [
    # First: every request (webhooks on their fast path too) gets an id for the logs and
    # is counted for /metrics.
    "funnelwatch.ops.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "funnelwatch.telephony.middleware.WebhookFastPathMiddleware",  # skips the rest
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Department staff (accounting, warehouse…) reach only their requests and calendar.
    "funnelwatch.handoffs.middleware.DepartmentStaffMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "funnelwatch.audit.middleware.AuditActorMiddleware",
    # Last: turns a login refused for too many failures into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "funnelwatch.urls"
WSGI_APPLICATION = "funnelwatch.wsgi.application"

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
                "funnelwatch.core.context_processors.navigation_items",
            ],
        },
    },
]

# --- database: SQLite in WAL mode under the data folder unless DATABASE_URL says otherwise ---
DATABASE_URL = envstr("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    if "postgresql" in DATABASES["default"]["ENGINE"]:
        # Just-in-time compilation costs 50-100 ms on the larger report queries and saves
        # nothing on queries this short (see README, Performance). ``?options=...`` in
        # DATABASE_URL replaces this.
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
else:
    # Owner-only, like the secret key: the database (and its -wal/-shm files, which take
    # its mode) holds every deal, call and letter.
    private_dir(DATA_DIR)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": private_file(DATA_DIR / "funnelwatch.sqlite3"),
            "CONN_MAX_AGE": 60,
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                # A writer waits up to a minute for another's write to end (a refresh of a
                # busy day's rollups on a loaded machine can pass 20 s) instead of failing.
                "timeout": 60,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    "PRAGMA busy_timeout=60000; PRAGMA foreign_keys=ON;"
                ),
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AUTHENTICATION_BACKENDS = [
    # Refuses logins while the account or the address is locked out; checks nothing else.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Checked wherever a password is chosen (admin, createsuperuser, changepassword). The demo
# sets its "demo" passwords directly, which these do not apply to.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": envint("FUNNELWATCH_PASSWORD_MIN_LENGTH", 10)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- login throttling (django-axes): per account and per address, see the README ---
AXES_FAILURE_LIMIT = envint("FUNNELWATCH_LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = dt.timedelta(minutes=envint("FUNNELWATCH_LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "funnelwatch.lib.addresses.client_ip"
AXES_LOCKOUT_CALLABLE = "funnelwatch.accounts.throttle.lockout_response"
AXES_USERNAME_FORM_FIELD = "username"

# --- language, time ---
LANGUAGE_CODE = envstr("LANGUAGE_CODE", "en")
LANGUAGES = [("en", _("English")), ("ru", _("Russian")), ("mn", _("Mongolian"))]
# Each language named in itself, for choosing one before signing in (Django names
# Mongolian in English).
LANGUAGE_NAMES_LOCAL = {"en": "English", "ru": "Русский", "mn": "Монгол"}
LOCALE_PATHS = [BASE_DIR / "locale"]
# The company's reporting time zone: every "day" in a metric is a day here.
TIME_ZONE = envstr("TIME_ZONE", "Asia/Ulaanbaatar")
USE_I18N = True
USE_TZ = True

# --- files ---
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
# The product's own CSS and vendored scripts: `funnelwatch` itself is not an app, so its
# static folder is named here for the finders, collectstatic and WhiteNoise.
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(envstr("FUNNELWATCH_MEDIA_DIR", str(DATA_DIR / "media"))).resolve()
STORAGES = {
    # Recordings and attachments: owner-only files and folders (Django's default is 0644).
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"file_permissions_mode": 0o600, "directory_permissions_mode": 0o700},
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- background jobs: django-tasks with the database backend ---
TASKS = {
    "default": {
        "BACKEND": envstr("FUNNELWATCH_TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}

# --- e-mail (digests, sending from deals) ---
EMAIL_BACKEND = envstr("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = envstr("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = envsecret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = envbool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "funnelwatch@localhost")

# --- the business ---
FUNNELWATCH_CURRENCY = envstr("FUNNELWATCH_CURRENCY", "MNT")
# Region used to read phone numbers written without a country code.
FUNNELWATCH_PHONE_REGION = envstr("FUNNELWATCH_PHONE_REGION", "MN")
FUNNELWATCH_WORKDAY_START = envint("FUNNELWATCH_WORKDAY_START", 9)
FUNNELWATCH_WORKDAY_END = envint("FUNNELWATCH_WORKDAY_END", 18)
# Weekdays that are working days, Monday=0.
FUNNELWATCH_WORKDAYS = [int(d) for d in envlist("FUNNELWATCH_WORKDAYS", ["0", "1", "2", "3", "4"])]
# Minutes within working hours in which a new lead or a missed call must be called.
FUNNELWATCH_CALL_SLA_MINUTES = envint("FUNNELWATCH_CALL_SLA_MINUTES", 15)
# Monthly cost of the sales system (salaries, telephony, software), for cost_of_sales_pct.
FUNNELWATCH_MONTHLY_SALES_COST = envstr("FUNNELWATCH_MONTHLY_SALES_COST", "0")
# The client base (docs/clients.md). ABC: A are the companies making the first
# FUNNELWATCH_ABC_A_PCT % of the won revenue of the last 12 months, B the next
# FUNNELWATCH_ABC_B_PCT %, C the rest. XYZ: the coefficient of variation of monthly
# revenue, in %: X up to FUNNELWATCH_XYZ_X_MAX_PCT, Y up to FUNNELWATCH_XYZ_Y_MAX_PCT, Z above.
FUNNELWATCH_ABC_A_PCT = envint("FUNNELWATCH_ABC_A_PCT", 80)
FUNNELWATCH_ABC_B_PCT = envint("FUNNELWATCH_ABC_B_PCT", 15)
FUNNELWATCH_XYZ_X_MAX_PCT = envint("FUNNELWATCH_XYZ_X_MAX_PCT", 50)
FUNNELWATCH_XYZ_Y_MAX_PCT = envint("FUNNELWATCH_XYZ_Y_MAX_PCT", 100)
# Lifecycle: a client is new for this many months after the first win, sleeping after this
# many months without a win, lost after this many.
FUNNELWATCH_CLIENT_NEW_MONTHS = envint("FUNNELWATCH_CLIENT_NEW_MONTHS", 3)
FUNNELWATCH_CLIENT_SLEEPING_MONTHS = envint("FUNNELWATCH_CLIENT_SLEEPING_MONTHS", 3)
FUNNELWATCH_CLIENT_LOST_MONTHS = envint("FUNNELWATCH_CLIENT_LOST_MONTHS", 12)
# Alerts and digests by Telegram (each user chooses in "My calendar"): the bot's token
# and the Bot API's address.
FUNNELWATCH_TELEGRAM_BOT_TOKEN = envsecret("FUNNELWATCH_TELEGRAM_BOT_TOKEN")
# FUNNELWATCH_TELEGRAM_API is the older name of the address, still read.
FUNNELWATCH_TELEGRAM_API_BASE = envstr(
    "FUNNELWATCH_TELEGRAM_API_BASE",
    envstr("FUNNELWATCH_TELEGRAM_API", "https://api.telegram.org"),
)
# Click-to-call through the Asterisk Manager Interface (empty host: off).
FUNNELWATCH_AMI_HOST = envstr("FUNNELWATCH_AMI_HOST")
FUNNELWATCH_AMI_PORT = envint("FUNNELWATCH_AMI_PORT", 5038)
FUNNELWATCH_AMI_USERNAME = envstr("FUNNELWATCH_AMI_USERNAME")
FUNNELWATCH_AMI_SECRET = envsecret("FUNNELWATCH_AMI_SECRET")
FUNNELWATCH_AMI_CONTEXT = envstr("FUNNELWATCH_AMI_CONTEXT", "from-internal")
FUNNELWATCH_AMI_CHANNEL = envstr("FUNNELWATCH_AMI_CHANNEL", "PJSIP/{extension}")
# Seconds to wait for the PBX's answers.
FUNNELWATCH_AMI_TIMEOUT = envint("FUNNELWATCH_AMI_TIMEOUT", 10)
# --- alerts and digests ---
# Local time the evening digest goes out (HH:MM, company time zone).
FUNNELWATCH_DIGEST_TIME = envtime("FUNNELWATCH_DIGEST_TIME", "19:00")
# Weekday of the weekly report, Monday=0 (Friday by default).
FUNNELWATCH_WEEKLY_DIGEST_WEEKDAY = envint("FUNNELWATCH_WEEKLY_DIGEST_WEEKDAY", 4)
# After downtime, digests of up to this many past days are still sent.
FUNNELWATCH_DIGEST_CATCHUP_DAYS = envint("FUNNELWATCH_DIGEST_CATCHUP_DAYS", 2)
# Where daily metric values come from: "rollup" (the daily rollups, kept current as events
# arrive) or "raw" (computed from the records; slower, for checks).
FUNNELWATCH_ALERTS_METRIC_SOURCE = envstr("FUNNELWATCH_ALERTS_METRIC_SOURCE", "rollup")
# How often the rules are evaluated.
FUNNELWATCH_ALERTS_EVERY_MINUTES = envint("FUNNELWATCH_ALERTS_EVERY_MINUTES", 15)

# --- the numbers (the metrics kernel) ---
# Recompute the affected daily rollups right after each change commits. Bulk loaders may
# turn it off and run ``funnelwatch rollups rebuild`` once at the end.
FUNNELWATCH_METRICS_REFRESH_ON_EVENT = envbool("FUNNELWATCH_METRICS_REFRESH_ON_EVENT", True)
# "Now" metrics (stalled deals, overdue tasks, unanswered letters) scan open records; the
# key-numbers page reuses their answer for this many seconds (0: always recompute).
FUNNELWATCH_LIVE_METRICS_CACHE_SECONDS = envint("FUNNELWATCH_LIVE_METRICS_CACHE_SECONDS", 60)
# Period answers read from the rollups are reused for this many seconds while no day of
# the period has been rebuilt since (0: always read).
FUNNELWATCH_ROLLUP_CACHE_SECONDS = envint("FUNNELWATCH_ROLLUP_CACHE_SECONDS", 3600)
# --- call quality ---
# Voice activity detector: auto (webrtc when installed, else energy), energy or webrtc.
FUNNELWATCH_QUALITY_VAD = envstr("FUNNELWATCH_QUALITY_VAD", "auto")
# Which stereo channel carries the manager when the recording does not say.
FUNNELWATCH_QUALITY_MANAGER_CHANNEL = envstr("FUNNELWATCH_QUALITY_MANAGER_CHANNEL", "left")
# ffmpeg executable for MP3 and other compressed formats ("" = look it up on PATH).
FUNNELWATCH_FFMPEG = envstr("FUNNELWATCH_FFMPEG", "")
# Sampling rule: this many random answered calls a manager a week go to review, chosen
# among calls at least this long (seconds); flagged calls always go.
FUNNELWATCH_QUALITY_SAMPLE_PER_WEEK = envint("FUNNELWATCH_QUALITY_SAMPLE_PER_WEEK", 5)
FUNNELWATCH_QUALITY_SAMPLE_MIN_S = envint("FUNNELWATCH_QUALITY_SAMPLE_MIN_S", 60)
# Optional transcription: a Vosk model folder the administrator unpacked ("" = off).
FUNNELWATCH_VOSK_MODEL_DIR = envstr("FUNNELWATCH_VOSK_MODEL_DIR", "")
# --- telephony ---
# Provider credentials: Twilio, Zadarma (the API key downloads recordings), Mango Office,
# the generic JSON webhook's shared secret, and the token the PBX sends to the routing API.
FUNNELWATCH_TWILIO_ACCOUNT_SID = envstr("FUNNELWATCH_TWILIO_ACCOUNT_SID")
FUNNELWATCH_TWILIO_AUTH_TOKEN = envsecret("FUNNELWATCH_TWILIO_AUTH_TOKEN")
FUNNELWATCH_ZADARMA_KEY = envsecret("FUNNELWATCH_ZADARMA_KEY")
FUNNELWATCH_ZADARMA_SECRET = envsecret("FUNNELWATCH_ZADARMA_SECRET")
FUNNELWATCH_MANGO_API_KEY = envsecret("FUNNELWATCH_MANGO_API_KEY")
FUNNELWATCH_MANGO_SALT = envsecret("FUNNELWATCH_MANGO_SALT")
FUNNELWATCH_CALLS_WEBHOOK_SECRET = envsecret("FUNNELWATCH_CALLS_WEBHOOK_SECRET")
FUNNELWATCH_ROUTE_TOKEN = envsecret("FUNNELWATCH_ROUTE_TOKEN")
# An inbound call from an unknown number becomes a lead.
FUNNELWATCH_CALLS_CREATE_LEADS = envbool("FUNNELWATCH_CALLS_CREATE_LEADS", True)
# Zone the PBX writes CDR times in ("" = the company's zone).
FUNNELWATCH_CDR_TIMEZONE = envstr("FUNNELWATCH_CDR_TIMEZONE")
# "queue": each webhook event is checked, stored and answered at once, and turned into a
# call by the worker in batches, FUNNELWATCH_WEBHOOK_BATCH_MS after the first event of the
# batch arrived (a PBX sending hundreds of events a second is not held up); "sync": each
# event becomes a call in its own request (an installation without the worker).
FUNNELWATCH_WEBHOOK_MODE = envstr("FUNNELWATCH_WEBHOOK_MODE", "queue")
FUNNELWATCH_WEBHOOK_BATCH_MS = envint("FUNNELWATCH_WEBHOOK_BATCH_MS", 500)
# Addresses and networks that may send each provider's webhooks (empty: anyone; the
# signature is then the only check).
FUNNELWATCH_WEBHOOK_ALLOWED_IPS_TWILIO = envlist("FUNNELWATCH_WEBHOOK_ALLOWED_IPS_TWILIO", [])
FUNNELWATCH_WEBHOOK_ALLOWED_IPS_ZADARMA = envlist("FUNNELWATCH_WEBHOOK_ALLOWED_IPS_ZADARMA", [])
FUNNELWATCH_WEBHOOK_ALLOWED_IPS_MANGO = envlist("FUNNELWATCH_WEBHOOK_ALLOWED_IPS_MANGO", [])
FUNNELWATCH_WEBHOOK_ALLOWED_IPS_GENERIC = envlist("FUNNELWATCH_WEBHOOK_ALLOWED_IPS_GENERIC", [])
# Recordings: download time-out (s), attempts, the largest accepted file, the hosts each
# provider's recordings may be fetched from (``*.example.com``; the generic webhook: none
# until listed) and internal hosts or networks that may be fetched all the same.
FUNNELWATCH_RECORDING_TIMEOUT = envint("FUNNELWATCH_RECORDING_TIMEOUT", 30)
FUNNELWATCH_RECORDING_RETRIES = envint("FUNNELWATCH_RECORDING_RETRIES", 5)
FUNNELWATCH_RECORDING_MAX_BYTES = envint("FUNNELWATCH_RECORDING_MAX_BYTES", 200 << 20)
FUNNELWATCH_RECORDING_HOSTS_TWILIO = envlist(
    "FUNNELWATCH_RECORDING_HOSTS_TWILIO", ["api.twilio.com", "*.twilio.com", "*.twiliocdn.com"]
)
FUNNELWATCH_RECORDING_HOSTS_ZADARMA = envlist(
    "FUNNELWATCH_RECORDING_HOSTS_ZADARMA", ["api.zadarma.com", "*.zadarma.com"]
)
FUNNELWATCH_RECORDING_HOSTS_MANGO = envlist(
    "FUNNELWATCH_RECORDING_HOSTS_MANGO",
    ["app.mango-office.ru", "mango-office.ru", "*.mango-office.ru"],
)
FUNNELWATCH_RECORDING_HOSTS_GENERIC = envlist("FUNNELWATCH_RECORDING_HOSTS_GENERIC", [])
FUNNELWATCH_RECORDING_INTERNAL_HOSTS = envlist("FUNNELWATCH_RECORDING_INTERNAL_HOSTS", [])

# --- operations ---
# Where ``funnelwatch backup`` and the daily backup write ("" = DATA_DIR/backups), the
# local time of the daily backup (HH:MM; "" = none) and how many daily and weekly
# archives are kept.
FUNNELWATCH_BACKUP_DIR = envstr("FUNNELWATCH_BACKUP_DIR")
FUNNELWATCH_BACKUP_DAILY_AT = envstr("FUNNELWATCH_BACKUP_DAILY_AT")
FUNNELWATCH_BACKUP_KEEP_DAILY = envint("FUNNELWATCH_BACKUP_KEEP_DAILY", 7)
FUNNELWATCH_BACKUP_KEEP_WEEKLY = envint("FUNNELWATCH_BACKUP_KEEP_WEEKLY", 4)
# A folder holding pg_dump and pg_restore of the server's version (optional).
FUNNELWATCH_PG_BINDIR = envstr("FUNNELWATCH_PG_BINDIR")
# How often the task worker and the periodic runner say they are alive, and after how
# many silent seconds one is reported stopped.
FUNNELWATCH_HEARTBEAT_SECONDS = envint("FUNNELWATCH_HEARTBEAT_SECONDS", 10)
FUNNELWATCH_HEARTBEAT_STALE_SECONDS = envint("FUNNELWATCH_HEARTBEAT_STALE_SECONDS", 45)
# The status page warns when a data disk has less free space than this (%).
FUNNELWATCH_DISK_MIN_FREE_PERCENT = envint("FUNNELWATCH_DISK_MIN_FREE_PERCENT", 10)
# The bearer token Prometheus sends to /ops/metrics; empty: the page does not exist.
FUNNELWATCH_METRICS_TOKEN = envsecret("FUNNELWATCH_METRICS_TOKEN")

# --- mail ---
# Attachments bigger than this are not stored (the message keeps a note); messages bigger
# than this are fetched as headers and text only.
FUNNELWATCH_MAIL_MAX_ATTACHMENT_BYTES = envint("FUNNELWATCH_MAIL_MAX_ATTACHMENT_BYTES", 10 << 20)
FUNNELWATCH_MAIL_MAX_MESSAGE_BYTES = envint("FUNNELWATCH_MAIL_MAX_MESSAGE_BYTES", 40 << 20)
# A client's letter with no answer for longer than this counts as unanswered.
FUNNELWATCH_MAIL_UNANSWERED_HOURS = envint("FUNNELWATCH_MAIL_UNANSWERED_HOURS", 24)
# How often mailboxes are read, and how long to wait for the IMAP server (seconds).
FUNNELWATCH_MAIL_SYNC_MINUTES = envint("FUNNELWATCH_MAIL_SYNC_MINUTES", 5)
FUNNELWATCH_MAIL_IMAP_TIMEOUT = envint("FUNNELWATCH_MAIL_IMAP_TIMEOUT", 60)
# Domain of the Message-IDs of letters sent from the CRM ("" = funnelwatch.local).
FUNNELWATCH_MAIL_DOMAIN = envstr("FUNNELWATCH_MAIL_DOMAIN")
# Extra CA certificates (PEM) to trust, for mail servers with a private certificate.
FUNNELWATCH_MAIL_CA_FILE = envstr("FUNNELWATCH_MAIL_CA_FILE")

# --- leads ---
# Twilio's REST API address, for WhatsApp replies, and the company's WhatsApp sender
# (``whatsapp:+14155238886``).
FUNNELWATCH_TWILIO_API = envstr("FUNNELWATCH_TWILIO_API", "https://api.twilio.com")
FUNNELWATCH_WHATSAPP_FROM = envstr("FUNNELWATCH_WHATSAPP_FROM")
# Mail addresses whose letters from unknown senders become leads (comma-separated).
FUNNELWATCH_LEADS_EMAIL = envlist("FUNNELWATCH_LEADS_EMAIL", [])
# Web forms: accepted submissions per address in FUNNELWATCH_FORM_RATE_MINUTES minutes;
# the same submission again within FUNNELWATCH_FORM_REPEAT_MINUTES makes no second lead.
FUNNELWATCH_FORM_RATE_LIMIT = envint("FUNNELWATCH_FORM_RATE_LIMIT", 5)
FUNNELWATCH_FORM_RATE_MINUTES = envint("FUNNELWATCH_FORM_RATE_MINUTES", 10)
FUNNELWATCH_FORM_REPEAT_MINUTES = envint("FUNNELWATCH_FORM_REPEAT_MINUTES", 10)

# Key for encrypting stored secrets (mailbox passwords); generated into the data folder.
FUNNELWATCH_FERNET_KEY = envsecret("FUNNELWATCH_FERNET_KEY")

# One line per event; FUNNELWATCH_LOG_FORMAT=json makes each line a JSON object (time,
# level, logger, message, request_id, and the exception's traceback when there is one).
FUNNELWATCH_LOG_FORMAT = envstr("FUNNELWATCH_LOG_FORMAT", "text").lower()
if FUNNELWATCH_LOG_FORMAT not in ("text", "json"):
    raise ValueError(f"FUNNELWATCH_LOG_FORMAT must be text or json, got {FUNNELWATCH_LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "funnelwatch.ops.logs.RequestIdFilter"}},
    "formatters": {
        "text": {
            "()": "funnelwatch.ops.logs.OneLineFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
        "json": {
            "()": "funnelwatch.ops.logs.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": FUNNELWATCH_LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "WARNING")},
    "loggers": {
        "funnelwatch": {
            "handlers": ["console"],
            "level": envstr("LOG_LEVEL", "INFO"),
            "propagate": False,
        },
        # Django's own request errors (the 500's traceback) in the same one-line form.
        "django.request": {
            "handlers": ["console"],
            "level": envstr("LOG_LEVEL", "WARNING"),
            "propagate": False,
        },
    },
}

# Content-Security-Policy: scripts only from our own static files (no inline script or
# handler anywhere: funnelwatch/static/funnelwatch/app.js wires the pages), nothing from
# other hosts, no framing. Inline style attributes stay allowed (widths of bars, etc.).
from csp.constants import NONE, SELF, UNSAFE_INLINE  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "media-src": [SELF],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Served over https (SITE_URL says so): cookies only over https, and browsers told to use
# nothing else for a year (HSTS). Each can still be set on its own.
HTTPS = SITE_URL.lower().startswith("https://")
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", HTTPS)
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", HTTPS)
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31_536_000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (see README, Production).
if envbool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
