"""StockAgent settings, read from the environment (django-environ).

Every variable here is listed in the README's settings table with its default. Two embedded defaults let a
fresh machine run the whole stack with no services configured: a SQLite file under ``var/`` (WAL mode so web,
worker, beat and realtime can share it) and a Redis server started by ``manage.py runstack`` on 127.0.0.1:6379.
"""

from __future__ import annotations

import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# var/ holds everything a running stack writes: the embedded database, generated keys, logs, simulator state.
VAR_DIR = Path(env.str("STOCKAGENT_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=False)


def _generated_secret(name: str, factory) -> str:
    """A secret kept in var/ so every process of one installation shares it (embedded default only)."""
    path = VAR_DIR / name
    if not path.exists():
        path.write_text(factory())
        path.chmod(0o600)
    return path.read_text().strip()


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


DATABASE_URL = env.str("DATABASE_URL", default="")
EMBEDDED_DATABASE = not DATABASE_URL

# With no DATABASE_URL this is a single-machine installation: generate secrets into var/ instead of
# running with a known default. Anything else must be given explicitly (the system checks refuse otherwise).
SECRET_KEY = env.str("SECRET_KEY", default="") or (
    _generated_secret("secret_key", lambda: secrets.token_urlsafe(50))
    if EMBEDDED_DATABASE or DEBUG
    else ""
)
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="") or (
    _generated_secret("field_encryption_key", _fernet_key) if EMBEDDED_DATABASE or DEBUG else ""
)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI / Redoc assets served from static/, no CDN
    "channels",
    "django_celery_beat",
    "axes",
    "apps.core",
    "apps.broker",
    "apps.market",
    "apps.notifications",
    "apps.conditions",
    "apps.realtime",
    "apps.accounts",
    "apps.trades",
    "apps.risk",
    "apps.news",
    "apps.strategy",
    "apps.reports",
    "apps.chatops",
    "apps.backtests",
]
# daphne's app only swaps in an ASGI `runserver`, and importing it loads twisted (~0.7 s) for every
# command: the stack runs the daphne server directly, so it is installed for `runserver` alone.
if sys.argv[1:2] == ["runserver"]:
    INSTALLED_APPS.insert(0, "daphne")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "apps.core.input_guard.HostileInputMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "apps.core.middleware.KoreanFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every page requires a login unless its view is marked login_not_required (the login page only).
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into apps.core.security.lockout_response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "stockagent.urls"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

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
                "apps.core.context_processors.system_status",
            ],
        },
    },
]

WSGI_APPLICATION = "stockagent.wsgi.application"
ASGI_APPLICATION = "stockagent.asgi.application"

# --- Database -------------------------------------------------------------------------------------------
if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "stockagent.sqlite3",
            "OPTIONS": {
                # WAL lets readers and one writer work at once across processes; the busy timeout makes a
                # second writer wait instead of failing; IMMEDIATE takes the write lock at BEGIN so two
                # processes never deadlock upgrading read locks.
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;"
                ),
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
if test_db_name := env.str("TEST_DATABASE_NAME", default=""):
    DATABASES["default"]["TEST"] = {"NAME": test_db_name}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, Celery, Channels ----------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
EMBEDDED_REDIS = "REDIS_URL" not in os.environ
# Prepended to every Redis key this project uses (our own keys via apps.core.rediskeys, Celery's queues
# and results, the Channels layer), so two installations, or two test suites, can share one Redis.
# The test settings derive it from the test database name.
REDIS_KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default="")

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
if REDIS_KEY_PREFIX:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": REDIS_KEY_PREFIX}
    CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"global_keyprefix": REDIS_KEY_PREFIX}
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = 3600
CELERY_TIMEZONE = "Asia/Seoul"
CELERY_ENABLE_UTC = True
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_TASK_ACKS_LATE = (
    False  # a task that died mid-way is not re-run blindly (orders must not repeat)
)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "apps.core.beat:HeartbeatDatabaseScheduler"
# Work goes to separate queues, each served by its own worker slots (runstack's WORKERS, docker-compose),
# so a flood of one kind never delays another. Tasks are routed by the prefix of their name; a task of a
# new app lands on the right queue by naming it `orders.…`, `risk.…`, `reports.…`.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = [
    Queue(name) for name in ("orders", "market", "notifications", "reports", "default")
]
CELERY_TASK_ROUTES = {
    "orders.*": {"queue": "orders"},
    "trades.*": {"queue": "orders"},
    "risk.*": {"queue": "orders"},
    "conditions.*": {"queue": "market"},
    "market.*": {"queue": "market"},
    "strategy.*": {"queue": "market"},
    "notifications.*": {"queue": "notifications"},
    "reports.*": {"queue": "reports"},
    # the tuning trials' reaper: not behind the trials it reaps (an exact name wins over a pattern)
    "backtests.reap_trials": {"queue": "default"},
    "backtests.*": {"queue": "reports"},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# channels-redis waits for a socket's next message with a blocking BZPOPMIN of 5 s (RedisChannelLayer
# .brpop_timeout). redis-py 8 gives every connection a 5-s socket_timeout by default, so an idle socket's read
# raced the server's reply and lost: `TimeoutError: Timeout reading from …`, the consumer died and the browser
# saw close code 1011 every ~10 s. A read must be allowed to outlast the blocking command; the system check
# stockagent.E005 refuses a layer configured otherwise.
CHANNEL_LAYER_SOCKET_TIMEOUT = 10  # the 5-s blocking read plus a margin for a busy server


def channel_layer_host(url: str) -> dict:
    """The Channels layer's connection to one Redis (also used by tests that run a private Redis)."""
    return {
        "address": url,
        "socket_timeout": CHANNEL_LAYER_SOCKET_TIMEOUT,
        "socket_connect_timeout": 5,
        "socket_keepalive": True,
    }


CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [channel_layer_host(REDIS_URL)],
            "capacity": 1000,
            "expiry": 30,
            "prefix": f"{REDIS_KEY_PREFIX}asgi",
        },
    }
}

# --- REST API -------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "apps.core.security.ThrottledTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["apps.core.permissions.IsTraderOrReadOnly"],
    # limit/offset, limit ≤ 500, count capped at LIST_COUNT_CAP (apps.core.pagination).
    "DEFAULT_PAGINATION_CLASS": "apps.core.pagination.LimitOffsetPages",
    "PAGE_SIZE": 100,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/min"),
        "user": env.str("API_THROTTLE_USER", default="600/min"),
        "notify_test": env.str("NOTIFY_TEST_THROTTLE", default="5/min"),
    },
}
# Lists count at most this many rows (then "10,000+") and page no deeper (apps.core.pagination).
LIST_COUNT_CAP = env.int("LIST_COUNT_CAP", default=10_000)
API_TOKEN_FAILURE_LIMIT = env.int("API_TOKEN_FAILURE_LIMIT", default=10)
API_TOKEN_FAILURE_WINDOW_SECONDS = env.int("API_TOKEN_FAILURE_WINDOW_SECONDS", default=600)

# Throttle counters live in Redis so every web process counts together.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "stockagent:cache",
    }
}

# --- Auth -----------------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login lock-out (django-axes): LOGIN_FAILURE_LIMIT wrong passwords for one account (from anywhere) or from
# one address (for any account) lock that account / address out for LOGIN_LOCKOUT_MINUTES; the page says
# until when. A success resets the count. `manage.py axes_reset` unlocks everyone.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "apps.core.security.lockout_response"
AXES_VERBOSE = False
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)

# --- I18n / time ----------------------------------------------------------------------------------------
LANGUAGE_CODE = "ko"
LANGUAGES = [("ko", "한국어"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "Asia/Seoul"  # what pages show; the database stores UTC

# --- Static ---------------------------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- Kiwoom / broker ------------------------------------------------------------------------------------
KIWOOM_REAL_HOST = "api.kiwoom.com"
KIWOOM_MOCK_HOST = "mockapi.kiwoom.com"
KIWOOM_SIM_HOST = env.str("KIWOOM_SIM_HOST", default="127.0.0.1")
KIWOOM_SIM_PORT = env.int("KIWOOM_SIM_PORT", default=18400)
KIWOOM_SIM_SPEED = env.float("KIWOOM_SIM_SPEED", default=1.0)
KIWOOM_SIM_SEED = env.int("KIWOOM_SIM_SEED", default=7)
KIWOOM_SIM_DATE = env.str("KIWOOM_SIM_DATE", default="")  # e.g. 2025-01-15: a night demo
KIWOOM_SIM_START_TIME = env.str("KIWOOM_SIM_START_TIME", default="08:30")
KIWOOM_SIM_ROLL_ON = env.bool("KIWOOM_SIM_ROLL_ON", default=True)  # accelerated: on to the next day
KIWOOM_SIM_STATE_FILE = env.str(
    "KIWOOM_SIM_STATE_FILE", default=str(VAR_DIR / "kiwoom-sim-state.json")
)
KIWOOM_SIM_CONDITIONS_FILE = env.str("KIWOOM_SIM_CONDITIONS_FILE", default="")
KIWOOM_SIM_START_CASH = env.int("KIWOOM_SIM_START_CASH", default=100_000_000)
KIWOOM_SIM_CREDENTIALS_FILE = env.str("KIWOOM_SIM_CREDENTIALS_FILE", default="")

KIWOOM_APP_KEY = env.str("KIWOOM_APP_KEY", default="")
KIWOOM_SECRET_KEY = env.str("KIWOOM_SECRET_KEY", default="")
# No keys means paper trading on the bundled simulator, never the real host by accident.
KIWOOM_USE_SIMULATOR = not (KIWOOM_APP_KEY and KIWOOM_SECRET_KEY)
if KIWOOM_USE_SIMULATOR:
    KIWOOM_APP_KEY = "SIMULATOR-DEMO-APPKEY"
    KIWOOM_SECRET_KEY = "SIMULATOR-DEMO-SECRET"  # noqa: S105 - the simulator's public demo pair
    KIWOOM_BASE_URL = f"http://{KIWOOM_SIM_HOST}:{KIWOOM_SIM_PORT}"
    KIWOOM_WS_URL = f"ws://{KIWOOM_SIM_HOST}:{KIWOOM_SIM_PORT}/api/dostk/websocket"
    KIWOOM_ACCOUNT = env.str("KIWOOM_ACCOUNT", default="5000000010")
else:
    KIWOOM_BASE_URL = env.str("KIWOOM_BASE_URL", default=f"https://{KIWOOM_MOCK_HOST}")
    KIWOOM_WS_URL = env.str(
        "KIWOOM_WS_URL", default=f"wss://{KIWOOM_MOCK_HOST}:10000/api/dostk/websocket"
    )
    KIWOOM_ACCOUNT = env.str("KIWOOM_ACCOUNT", default="")
KIWOOM_IS_MOCK = urlsplit(KIWOOM_BASE_URL).hostname == KIWOOM_MOCK_HOST
KIWOOM_RATE_QUERY_PER_SEC = env.float(
    "KIWOOM_RATE_QUERY_PER_SEC", default=1.0 if KIWOOM_IS_MOCK else 5.0
)
KIWOOM_TIMEOUT_SECONDS = env.float("KIWOOM_TIMEOUT_SECONDS", default=10.0)
# A whole sync broker call; past it an order call is AmbiguousOutcome, a read BrokerUnavailable.
KIWOOM_ORDER_CALL_TIMEOUT_SECONDS = env.float("KIWOOM_ORDER_CALL_TIMEOUT_SECONDS", default=15.0)
KIWOOM_READ_CALL_TIMEOUT_SECONDS = env.float("KIWOOM_READ_CALL_TIMEOUT_SECONDS", default=90.0)
BROKER_BACKEND = env.str("BROKER_BACKEND", default="kiwoom")

# --- Health ---------------------------------------------------------------------------------------------
HEALTH_STALE_SECONDS = env.int("HEALTH_STALE_SECONDS", default=45)
# Components the stack is expected to run; health is green only when all of them are.
HEALTH_EXPECTED_COMPONENTS = env.list(
    "HEALTH_EXPECTED_COMPONENTS", default=["database", "redis", "worker", "beat"]
)

# --- Logging --------------------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOG_FORMAT = env.str("LOG_FORMAT", default="text")  # text | json
LOG_DIR = Path(env.str("LOG_DIR", default=str(VAR_DIR / "log")))
LOG_DIR.mkdir(parents=True, exist_ok=True)
LOG_FILE_BACKUPS = env.int("LOG_FILE_BACKUPS", default=14)
# A file this process logs to, besides stdout (relative names are under LOG_DIR). Empty by default: under
# runstack the supervisor is the one writer of LOG_DIR/stockagent.log; processes never share a file, since
# each rotating the same file itself loses lines at rollover.
LOG_FILE = env.str("LOG_FILE", default="")
RUNSTACK_BACKOFF_BASE_SECONDS = env.float("RUNSTACK_BACKOFF_BASE_SECONDS", default=0.25)
RUNSTACK_BACKOFF_MAX_SECONDS = env.float("RUNSTACK_BACKOFF_MAX_SECONDS", default=60.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "apps.core.logging.RedactSecretsFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(processName)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["redact"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "websockets": {"level": "WARNING"},
    },
}

if LOG_FILE:
    LOGGING["handlers"]["file"] = {
        "class": "logging.handlers.TimedRotatingFileHandler",
        "filename": str(LOG_DIR / LOG_FILE),
        "when": "midnight",
        "backupCount": LOG_FILE_BACKUPS,
        "encoding": "utf-8",
        "delay": True,
        "formatter": LOG_FORMAT,
        "filters": ["redact"],
    }
    LOGGING["root"]["handlers"].append("file")

# Values the redaction filter masks wherever they appear in a log record.
SECRET_VALUES_FOR_REDACTION = [
    v for v in (SECRET_KEY, FIELD_ENCRYPTION_KEY, KIWOOM_SECRET_KEY) if v and len(v) >= 6
]
if not KIWOOM_USE_SIMULATOR:
    SECRET_VALUES_FOR_REDACTION.append(KIWOOM_APP_KEY)

# --- Email (notifications use Django's email backend) ---------------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="stockagent@localhost")

# --- Notifications (apps.notifications) -----------------------------------------------------------------
NOTIFY_DEDUP_WINDOW_SECONDS = env.int("NOTIFY_DEDUP_WINDOW_SECONDS", default=300)
NOTIFY_THROTTLE_WINDOW_SECONDS = env.int("NOTIFY_THROTTLE_WINDOW_SECONDS", default=60)
NOTIFY_THROTTLE_MAX = env.int("NOTIFY_THROTTLE_MAX", default=5)  # messages per channel per window
NOTIFY_DIGEST_DELAY_SECONDS = env.int("NOTIFY_DIGEST_DELAY_SECONDS", default=10)
NOTIFY_DIGEST_MAX_LINES = env.int("NOTIFY_DIGEST_MAX_LINES", default=60)
NOTIFY_MAX_ATTEMPTS = env.int("NOTIFY_MAX_ATTEMPTS", default=5)
NOTIFY_RETRY_BASE_SECONDS = env.float("NOTIFY_RETRY_BASE_SECONDS", default=2.0)
NOTIFY_RETRY_MAX_SECONDS = env.float("NOTIFY_RETRY_MAX_SECONDS", default=300.0)
NOTIFY_HTTP_TIMEOUT_SECONDS = env.float("NOTIFY_HTTP_TIMEOUT_SECONDS", default=5.0)
NOTIFY_MAX_ETA_SECONDS = env.int("NOTIFY_MAX_ETA_SECONDS", default=600)
NOTIFY_STALE_SENDING_SECONDS = env.int("NOTIFY_STALE_SENDING_SECONDS", default=300)
TELEGRAM_API_BASE = env.str("TELEGRAM_API_BASE", default="https://api.telegram.org")
TELEGRAM_BOT_TOKEN = env.str("TELEGRAM_BOT_TOKEN", default="")  # apps.chatops: its own bot
# Hosts a Slack channel may post to (HTTPS only, public addresses only: apps/notifications/backends/egress.py).
NOTIFY_SLACK_HOSTS = env.list("NOTIFY_SLACK_HOSTS", default=["hooks.slack.com"])
# Hosts allowed over plain HTTP and on private/loopback addresses: for tests and a local relay only.
NOTIFY_ALLOW_LOCAL_HOSTS = env.list("NOTIFY_ALLOW_LOCAL_HOSTS", default=[])

# --- Broker accounts (apps.accounts) ------------------------------------------------------------------------
# Queue a balance sync (kt00001 + kt00018) after fills; a burst of fills is one sync.
ACCOUNTS_SYNC_AFTER_FILL = env.bool("ACCOUNTS_SYNC_AFTER_FILL", default=True)

# --- Trading (apps.trades) -------------------------------------------------------------------------------
# The trades tasks (order_send, reconcile, expire_day_orders) run on the `orders` queue (`trades.*` in
# CELERY_TASK_ROUTES above).
# An `unknown` order the broker does not list this long after it was sent was never taken (→ rejected).
TRADES_RECONCILE_UNKNOWN_GRACE_SECONDS = env.float(
    "TRADES_RECONCILE_UNKNOWN_GRACE_SECONDS", default=3.0
)
# A `submitted` order older than this lost its sender mid-call (a killed process) and becomes `unknown`.
TRADES_RECONCILE_SUBMITTED_GRACE_SECONDS = env.float(
    "TRADES_RECONCILE_SUBMITTED_GRACE_SECONDS", default=20.0
)
# A `new` order not claimed this long after it was created lost its order_send task (→ rejected, never sent).
TRADES_RECONCILE_NEW_GRACE_SECONDS = env.float("TRADES_RECONCILE_NEW_GRACE_SECONDS", default=120.0)
TRADES_RECONCILE_AT_START = env.bool("TRADES_RECONCILE_AT_START", default=True)
# The realtime path's limit for one order call (then `unknown`, never a resend).
TRADES_ORDER_CALL_TIMEOUT_SECONDS = env.float("TRADES_ORDER_CALL_TIMEOUT_SECONDS", default=5.0)
# Opt-in: the realtime order path's commits do not wait for the WAL flush (see README).
TRADES_ORDER_ASYNC_COMMIT = env.bool("TRADES_ORDER_ASYNC_COMMIT", default=False)
# The realtime order path's single round trip on the account's last snapshot (apps.trades.services.aorder).
TRADES_ORDER_SINGLE_ROUND_TRIP = env.bool("TRADES_ORDER_SINGLE_ROUND_TRIP", default=True)
# Live prices of held positions (realtime hub): price_update/position_update at most this often per code,
# Position.current_price written at most this often.
TRADES_PRICE_PUSH_MS = env.int("TRADES_PRICE_PUSH_MS", default=500)
TRADES_PRICE_PERSIST_SECONDS = env.float("TRADES_PRICE_PERSIST_SECONDS", default=5.0)
# Split orders (services.split): the sweep's period (beat row seeded at 5 s; this caps a step chain's
# countdown), a step's lease, and the chase defaults (exchange-clock seconds before a child is amended,
# amends before it is cancelled, ticks per amend).
TRADES_SPLIT_SWEEP_SECONDS = env.float("TRADES_SPLIT_SWEEP_SECONDS", default=5.0)
TRADES_SPLIT_LEASE_SECONDS = env.int("TRADES_SPLIT_LEASE_SECONDS", default=60)
TRADES_SPLIT_CHASE_SECONDS = env.int("TRADES_SPLIT_CHASE_SECONDS", default=30)
TRADES_SPLIT_CHASE_MAX_AMENDS = env.int("TRADES_SPLIT_CHASE_MAX_AMENDS", default=3)
TRADES_SPLIT_CHASE_TICKS = env.int("TRADES_SPLIT_CHASE_TICKS", default=1)

# --- Risk engine (apps.risk) --------------------------------------------------------------------------------
# The session's opening equity when the account has no balance snapshot yet (0: unknown → entries refused
# until the first balance sync; exits always pass).
RISK_EQUITY_FALLBACK_KRW = env.int("RISK_EQUITY_FALLBACK_KRW", default=0)

# --- Risk exits and the emergency liquidation (apps.risk) -----------------------------------------------------
# Exits on live prices (realtime hub, handler `risk.exits`): the sell's limit price is this many percent under
# the trigger price (never under the day's lower limit); a refused/rejected/cancelled exit is retried after
# base × 2^n seconds, at most max.
RISK_EXIT_SLIPPAGE_PCT = env.str("RISK_EXIT_SLIPPAGE_PCT", default="1")
RISK_EXIT_RETRY_BASE_SECONDS = env.float("RISK_EXIT_RETRY_BASE_SECONDS", default=1.0)
RISK_EXIT_RETRY_MAX_SECONDS = env.float("RISK_EXIT_RETRY_MAX_SECONDS", default=60.0)
# A resting exit the market fell under is cancelled after this long and sent again at the new price.
RISK_EXIT_CHASE_SECONDS = env.float("RISK_EXIT_CHASE_SECONDS", default=3.0)
# Emergency liquidation (`risk.liquidate` on the orders queue): sells this many percent under the quote,
# split into child orders of at most this value; waits this long for orders on their way before selling;
# reports fills this long; the per-account lock lives at most this long (a crashed run cannot block the next).
RISK_LIQUIDATION_SLIPPAGE_PCT = env.str("RISK_LIQUIDATION_SLIPPAGE_PCT", default="3")
RISK_LIQUIDATION_MAX_ORDER_KRW = env.int("RISK_LIQUIDATION_MAX_ORDER_KRW", default=50_000_000)
RISK_LIQUIDATION_CANCEL_WAIT_SECONDS = env.float(
    "RISK_LIQUIDATION_CANCEL_WAIT_SECONDS", default=10.0
)
RISK_LIQUIDATION_WATCH_SECONDS = env.float("RISK_LIQUIDATION_WATCH_SECONDS", default=120.0)
RISK_LIQUIDATION_LOCK_SECONDS = env.int("RISK_LIQUIDATION_LOCK_SECONDS", default=900)
# VI in progress (handler `risk.vi`, state `apps.risk.vi`): a VI start whose release never arrived counts as
# over this many seconds of exchange time after it began (a real VI lasts ~2 minutes); other processes than
# the realtime one re-read the VI state from Redis at most this often.
RISK_VI_MAX_SECONDS = env.float("RISK_VI_MAX_SECONDS", default=600.0)
RISK_VI_CACHE_SECONDS = env.float("RISK_VI_CACHE_SECONDS", default=0.5)

# --- Market data (apps.market) ---------------------------------------------------------------------------
# The per-stock chart's opening range: high/low of the session's first N minutes (check market.E001).
CHART_OPENING_RANGE_MINUTES = env.int("CHART_OPENING_RANGE_MINUTES", default=5)

# --- The strategy engine in the realtime process (apps.strategy, handler `strategy.engine`) -----------------
# Off: the realtime hub runs without the engine (no automatic signals at all).
STRATEGY_ENGINE_ENABLED = env.bool("STRATEGY_ENGINE_ENABLED", default=True)
# Ticks of the latest scan's top N candidates are watched (plus the codes the engine holds or entered today).
STRATEGY_WATCH_TOP_N = env.int("STRATEGY_WATCH_TOP_N", default=20)
# An entry's marketable limit: this many percent above the reference price (tick grid, within the upper
# limit); a strategy exit sells this many percent under it (within the lower limit).
STRATEGY_ENTRY_SLIPPAGE_PCT = env.str("STRATEGY_ENTRY_SLIPPAGE_PCT", default="0.5")
STRATEGY_EXIT_SLIPPAGE_PCT = env.str("STRATEGY_EXIT_SLIPPAGE_PCT", default="1")
# After a restart mid-session, a signal the rebuild produces is sent only if it is at most this old (exchange
# time); older ones were missed while the process was down and are not chased.
STRATEGY_REBUILD_FRESH_SECONDS = env.float("STRATEGY_REBUILD_FRESH_SECONDS", default=60.0)
# `system_status` is pushed on every change and at least this often; the engine's heartbeat key lives this long.
STRATEGY_STATUS_PUSH_SECONDS = env.float("STRATEGY_STATUS_PUSH_SECONDS", default=30.0)
STRATEGY_HEARTBEAT_TTL_SECONDS = env.int("STRATEGY_HEARTBEAT_TTL_SECONDS", default=30)

# --- Condition monitoring (apps.conditions) and the realtime process ---------------------------------------
CONDITIONS_MAX_REALTIME = env.int("CONDITIONS_MAX_REALTIME", default=10)  # Kiwoom: 10 per login
# At least the check task's hard time limit (300 s): the lock must not expire under a running cycle.
CONDITIONS_CHECK_LOCK_SECONDS = env.int("CONDITIONS_CHECK_LOCK_SECONDS", default=300)
CONDITIONS_RUN_RETENTION_DAYS = env.int("CONDITIONS_RUN_RETENTION_DAYS", default=30)
CONDITIONS_REALTIME_BATCH_MS = env.int("CONDITIONS_REALTIME_BATCH_MS", default=150)
CONDITIONS_QUOTE_LIMIT = env.int("CONDITIONS_QUOTE_LIMIT", default=5)
CONDITIONS_QUOTE_TIMEOUT_SECONDS = env.float("CONDITIONS_QUOTE_TIMEOUT_SECONDS", default=0.5)
REALTIME_TICK_CODES = env.list("REALTIME_TICK_CODES", default=[])
REALTIME_HEARTBEAT_SECONDS = env.float("REALTIME_HEARTBEAT_SECONDS", default=5.0)
REALTIME_RESYNC_SECONDS = env.float("REALTIME_RESYNC_SECONDS", default=3.0)
# Opt-in (apps/core/aio.py says why): the realtime process and the simulator run their event loop on uvloop (apps.core.aio).
ASYNC_UVLOOP = env.bool("ASYNC_UVLOOP", default=False)

# --- Learning metrics and reports (apps.reports) ------------------------------------------------------------
# A pattern (strategy tag × news-score bucket × volume-rank bucket × entry-time bucket) needs this many trades
# before it can be named the best or worst pattern.
REPORTS_PATTERN_MIN_TRADES = env.int("REPORTS_PATTERN_MIN_TRADES", default=5)
# The equity a period starts from when the account has no balance snapshot before it (returns and drawdown
# in percent are taken against it).
REPORTS_START_EQUITY_KRW = env.int("REPORTS_START_EQUITY_KRW", default=100_000_000)
# The after-close job makes a day's metrics and report this long after the KRX session's close (late fills
# and the 15:45 expiry/reconciliation are in by then).
REPORTS_AFTER_CLOSE_MINUTES = env.int("REPORTS_AFTER_CLOSE_MINUTES", default=20)

# --- Backtests and tuning (apps.backtests) ----------------------------------------------------------------
# A running tuning trial whose heartbeat (written after each replayed day) is older than this is taken as lost
# (its worker died) and marked failed by the beat task `backtests.reap_trials`, so its run can finish; a run with
# queued trials and no trial progress for this long gets them re-sent (at most once per window; README).
BACKTESTS_TRIAL_STALE_SECONDS = env.int("BACKTESTS_TRIAL_STALE_SECONDS", default=900)

# --- Opening scanner (apps.strategy.scanner) -----------------------------------------------------------------
# The scan window in KST for a session opening at 09:00 (moved with a late open: 수능 day, first day of a
# year), the interval in exchange minutes, the candidates stored per run; STRATEGY_SCAN_ENABLED=false
# stops the scheduled scans (`manage.py scan` still runs).
STRATEGY_SCAN_ENABLED = env.bool("STRATEGY_SCAN_ENABLED", default=True)
STRATEGY_SCAN_START = env.str("STRATEGY_SCAN_START", default="09:00")
STRATEGY_SCAN_END = env.str("STRATEGY_SCAN_END", default="10:00")
STRATEGY_SCAN_INTERVAL_MINUTES = env.int("STRATEGY_SCAN_INTERVAL_MINUTES", default=1)
STRATEGY_SCAN_TOP_N = env.int("STRATEGY_SCAN_TOP_N", default=30)

# --- News (apps.news): in stockagent/settings_news.py (its __all__: the NEWS_* settings) -----------------
from stockagent.settings_news import *  # noqa: E402, F403
from stockagent.settings_openapi import SPECTACULAR_SETTINGS  # noqa: E402, F401 - API schema
