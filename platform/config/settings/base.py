"""Scalpel settings. Everything that differs between machines comes from the environment."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from config import env as scalpel_env
from config import log_format, storage

# Models load from local directories only; nothing may reach a model hub at run time.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

env = environ.Env()
BASE_DIR = scalpel_env.REPO_ROOT
DATA_DIR = scalpel_env.data_dir()

SCALPEL_ENV = env.str("SCALPEL_ENV", default="development")
if SCALPEL_ENV not in ("development", "test", "production"):
    # A typo ("prod") must not quietly run with development defaults (DEBUG, the insecure key).
    raise ImproperlyConfigured(f"SCALPEL_ENV is {SCALPEL_ENV!r}: set it to development, test or production.")
INSECURE_DEFAULT_SECRET = "insecure-dev-key-do-not-use-in-production"  # noqa: S105 - refused in production
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=INSECURE_DEFAULT_SECRET)
DEBUG = env.bool("DJANGO_DEBUG", default=SCALPEL_ENV == "development")

if SCALPEL_ENV == "production":
    if not os.environ.get("SCALPEL_DATA_DIR"):
        # The default, .scalpel/ beside the code, would put uploads and caches inside a release.
        raise ImproperlyConfigured(
            "SCALPEL_DATA_DIR must be set in production: a writable folder outside the code "
            "(static files, local caches, and media when storage is the local filesystem)."
        )
    if SECRET_KEY == INSECURE_DEFAULT_SECRET or len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
        # Django's own deployment check asks as much (security.W009).
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set to a random value of at least 50 characters in production "
            '(python -c "import secrets; print(secrets.token_urlsafe(50))").'
        )
    if DEBUG:
        raise ImproperlyConfigured("DJANGO_DEBUG must be off in production (unset it or set it to false).")

# Tenants live at <slug>.<base domain>; the operator console and the API at the public hosts.
SCALPEL_BASE_DOMAIN = env.str("SCALPEL_BASE_DOMAIN", default="localhost")
SCALPEL_PUBLIC_HOSTS = env.list("SCALPEL_PUBLIC_HOSTS", default=["localhost", "127.0.0.1", "testserver"])
if SCALPEL_BASE_DOMAIN not in SCALPEL_PUBLIC_HOSTS:
    SCALPEL_PUBLIC_HOSTS.append(SCALPEL_BASE_DOMAIN)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[*SCALPEL_PUBLIC_HOSTS, f".{SCALPEL_BASE_DOMAIN}"])
# Forms posted through a TLS proxy carry an https Origin: trust the public hosts and every tenant's
# subdomain over https (plain-http origins are checked against the request's own host).
CSRF_TRUSTED_ORIGINS = env.list(
    "DJANGO_CSRF_TRUSTED_ORIGINS",
    default=[*(f"https://{host}" for host in SCALPEL_PUBLIC_HOSTS), f"https://*.{SCALPEL_BASE_DOMAIN}"],
)

SHARED_APPS = [
    "django_tenants",
    "tenants",
    "console",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.admin",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    # Sign-in protection: each schema keeps its own attempts and devices, so the same email in two
    # workspaces never shares a lockout, and a deleted tenant takes them with its schema.
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.admin",
    "django.contrib.sessions",
    "django.contrib.messages",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "inference",
]
# The project's apps come before django.contrib.admin, so their templates (the sign-in and
# password-reset pages under registration/) are found before the admin's of the same name.
INSTALLED_APPS = list(
    dict.fromkeys(["django_tenants", "tenants", "console", "inference", *SHARED_APPS, *TENANT_APPS])
)

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
ROOT_URLCONF = "config.urls_tenants"
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)

MIDDLEWARE = [
    "tenants.middleware.RequestIdMiddleware",
    "tenants.middleware.HostileUrlMiddleware",
    "console.middleware.HttpMetricsMiddleware",
    "tenants.middleware.ProbeMiddleware",
    "tenants.middleware.OutageMiddleware",
    "console.middleware.OperatorMetricsMiddleware",
    "tenants.middleware.TenantHostMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "tenants.two_factor.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "tenants.middleware.SuspendedTenantMiddleware",
    # Last, so that the lockout answer replaces whatever the login view rendered.
    "axes.middleware.AxesMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Every template lives in its app's templates/ folder, so an installed wheel carries them.
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenants.context_processors.workspace_role",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {"default": env.db_url_config(scalpel_env.database_url())}
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# An unreachable PostgreSQL fails a request within seconds (answered 503), not after the OS's minutes.
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int(
    "DATABASE_CONNECT_TIMEOUT", default=5
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = scalpel_env.redis_url()
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "scalpel",
        # A down or frozen Redis fails a cache call within a second instead of hanging the request.
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}
# Rate limits and change counters (tenants/redis_client.py): the predict path's Redis calls give up
# after this long, then skip Redis until it answers again.
SCALPEL_REQUEST_REDIS_TIMEOUT_SECONDS = env.float("SCALPEL_REQUEST_REDIS_TIMEOUT_SECONDS", default=0.25)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
# django-axes first: it refuses a locked-out user and address before any password is checked.
AUTHENTICATION_BACKENDS = [
    "tenants.logins.SignInProtectionBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Sign-in protection (every login form: dashboard, tenant admin, operator console). A username is
# locked out from one address after SCALPEL_LOGIN_FAILURE_LIMIT failures in a row, for
# SCALPEL_LOGIN_COOLOFF_MINUTES after the last one; a success resets the count.
AXES_FAILURE_LIMIT = env.int("SCALPEL_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("SCALPEL_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# A lockout ends at a time the message can name, however often the form is tried meanwhile.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "tenants.logins.lockout_response"
AXES_CLIENT_IP_CALLABLE = "tenants.request_actor.client_ip"
AXES_USERNAME_CALLABLE = "tenants.logins.attempted_username"
AXES_VERBOSE = False
# Behind a reverse proxy that sets X-Forwarded-For, the client's address is its first entry.
SCALPEL_TRUST_X_FORWARDED_FOR = env.bool("SCALPEL_TRUST_X_FORWARDED_FOR", default=False)
OTP_TOTP_ISSUER = env.str("SCALPEL_OTP_ISSUER", default="Scalpel")

# Email: invitations and password resets. EMAIL_URL (smtp://user:password@host:587, or
# smtp+tls://…, or consolemail://) configures the backend; without it mail is printed to the console
# (in production the team page then shows invitation links to copy instead of promising an email).
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Scalpel <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
SCALPEL_EMAIL_CONFIGURED = bool(env.str("EMAIL_URL", default=""))
if SCALPEL_EMAIL_CONFIGURED:
    globals().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
# Invitation links work this many days, once; password reset links PASSWORD_RESET_TIMEOUT seconds.
SCALPEL_INVITATION_MAX_AGE_DAYS = env.int("SCALPEL_INVITATION_MAX_AGE_DAYS", default=7)
PASSWORD_RESET_TIMEOUT = env.int("SCALPEL_PASSWORD_RESET_TIMEOUT_SECONDS", default=3 * 3600)
# A workspace's address in mail sent outside a request (`tenant_user_add` without a password).
SCALPEL_TENANT_URL = env.str("SCALPEL_TENANT_URL", default="http://{slug}.localhost:8000")
# `manage.py dev` seeds the demo workspace with sample data and models; 0 skips it (never in production).
SCALPEL_DEMO = env.bool("SCALPEL_DEMO", default=True)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("SCALPEL_STATIC_ROOT", default=str(DATA_DIR / "staticfiles")))
MEDIA_ROOT = Path(env.str("SCALPEL_MEDIA_ROOT", default=str(DATA_DIR / "media")))
MEDIA_URL = "/media-not-served/"  # dataset files and artifacts are private: never served as static
STORAGES = {
    "default": storage.default_storage_config(env),
    # Production serves what `collectstatic --noinput` wrote: hashed names (cached for a year,
    # immutable) and compressed copies. Elsewhere files come straight from the apps' folders.
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if SCALPEL_ENV == "production"
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = SCALPEL_ENV != "production"
WHITENOISE_AUTOREFRESH = DEBUG
# Serving keeps a local, checksum-verified copy of each artifact it loads.
SCALPEL_ARTIFACT_CACHE_DIR = Path(
    env.str("SCALPEL_ARTIFACT_CACHE_DIR", default=str(DATA_DIR / "artifact-cache"))
)

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Behind a TLS-terminating proxy: the header it sets to say the client used https (opt-in, since a
# client could send it itself when nothing strips it), e.g. DJANGO_SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto.
_proxy_ssl_header = env.str("DJANGO_SECURE_PROXY_SSL_HEADER", default="")
if _proxy_ssl_header:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https")
# Redirect plain http to https: by default in production once the proxy's header is trusted (without
# it every request would look like http and redirect forever). Probes and /metrics answer before it.
SECURE_SSL_REDIRECT = env.bool(
    "DJANGO_SECURE_SSL_REDIRECT", default=SCALPEL_ENV == "production" and bool(_proxy_ssl_header)
)
# HSTS is remembered by browsers for its whole duration: opt-in (31536000 once https works everywhere).
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
# Preloading is a promise to browser vendors about the operator's whole domain, not ours to make:
# off unless asked for, and the deployment check's reminder about it is not a finding.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
if SCALPEL_ENV == "production":
    # Cookies only over https; DJANGO_SECURE_COOKIES=false for a plain-http trial installation.
    SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# Uploads: refuse oversize files before reading them into memory.
SCALPEL_UPLOAD_MAX_BYTES = env.int("SCALPEL_UPLOAD_MAX_BYTES", default=50 * 1024 * 1024)
SCALPEL_UPLOAD_MAX_ROWS = env.int("SCALPEL_UPLOAD_MAX_ROWS", default=500_000)
SCALPEL_MAX_TEXT_LENGTH = env.int("SCALPEL_MAX_TEXT_LENGTH", default=10_000)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Training
SCALPEL_TRAINING_TIME_BUDGET_SECONDS = env.int("SCALPEL_TRAINING_TIME_BUDGET_SECONDS", default=3 * 3600)
SCALPEL_JOB_HEARTBEAT_TIMEOUT_SECONDS = env.int("SCALPEL_JOB_HEARTBEAT_TIMEOUT_SECONDS", default=120)
SCALPEL_JOB_MAX_ATTEMPTS = env.int("SCALPEL_JOB_MAX_ATTEMPTS", default=2)
# Where this process's training jobs run: auto (CUDA when torch sees a GPU, else the CPU), cpu, cuda
# or cuda:N. A worker asked for a GPU it lacks fails each job at start, saying so.
SCALPEL_TRAINING_DEVICE = env.str("SCALPEL_TRAINING_DEVICE", default="auto").strip().lower()
if not re.fullmatch(r"auto|cpu|cuda(:\d{1,3})?", SCALPEL_TRAINING_DEVICE):
    raise ImproperlyConfigured(
        f"SCALPEL_TRAINING_DEVICE is {SCALPEL_TRAINING_DEVICE!r}: set it to auto, cpu, cuda or cuda:N."
    )
# A running job waits this long for PostgreSQL to come back (writes retried with backoff) before it
# is queued again without counting the attempt; keep it under the heartbeat timeout.
SCALPEL_JOB_DATABASE_RETRY_SECONDS = env.int("SCALPEL_JOB_DATABASE_RETRY_SECONDS", default=60)
# A job queued this long with no message in the broker (lost with it) is sent again by the sweep.
SCALPEL_JOB_RESEND_SECONDS = env.int("SCALPEL_JOB_RESEND_SECONDS", default=300)
SCALPEL_PROMOTION_MIN_METRIC = env.float("SCALPEL_PROMOTION_MIN_METRIC", default=0.0)
# Production needs a version to beat its own baseline on its test split by this much (absolute,
# headline metric): a model no better than TF-IDF + logistic regression is not worth serving.
SCALPEL_PROMOTION_MIN_LIFT = env.float("SCALPEL_PROMOTION_MIN_LIFT", default=0.01)
SCALPEL_PROMOTION_MAX_REGRESSION = env.float("SCALPEL_PROMOTION_MAX_REGRESSION", default=0.02)

# Serving
SCALPEL_PREDICT_MAX_BATCH = env.int("SCALPEL_PREDICT_MAX_BATCH", default=64)
SCALPEL_PREDICT_MAX_TEXT_LENGTH = env.int("SCALPEL_PREDICT_MAX_TEXT_LENGTH", default=10_000)
# Largest file a batch prediction takes (bytes); rows are streamed, so memory does not grow with it.
SCALPEL_BATCH_MAX_BYTES = env.int("SCALPEL_BATCH_MAX_BYTES", default=500 * 1024**2)
SCALPEL_BATCH_TIME_LIMIT_SECONDS = env.int("SCALPEL_BATCH_TIME_LIMIT_SECONDS", default=6 * 3600)
# Webhook endpoints on loopback or private addresses: refused in production unless an operator allows them.
SCALPEL_WEBHOOK_ALLOW_PRIVATE = env.bool("SCALPEL_WEBHOOK_ALLOW_PRIVATE", default=SCALPEL_ENV != "production")
# Largest request body read into memory (JSON or form fields; uploaded files are not counted),
# sized so that any predict request within the limits above fits: JSON may spell one character
# in 12 bytes (an emoji as "\ud83d\ude00"), plus 64 KiB for the rest. Over it: 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = SCALPEL_PREDICT_MAX_BATCH * SCALPEL_PREDICT_MAX_TEXT_LENGTH * 12 + 64 * 1024
SCALPEL_RUNTIME_CACHE_BYTES = env.int("SCALPEL_RUNTIME_CACHE_BYTES", default=4 * 1024**3)
SCALPEL_MICROBATCH_WAIT_MS = env.float("SCALPEL_MICROBATCH_WAIT_MS", default=2.0)
# Most texts one micro-batch (several concurrent requests to one version) may hold.
SCALPEL_MICROBATCH_MAX_TEXTS = env.int("SCALPEL_MICROBATCH_MAX_TEXTS", default=128)
# int8 serves a version only when its labels equal fp32's on this share of the validation split.
SCALPEL_INT8_MIN_AGREEMENT = env.float("SCALPEL_INT8_MIN_AGREEMENT", default=0.995)
# ONNX graphs of shared base encoders (exported once per machine, keyed by the base's fingerprint).
SCALPEL_ONNX_CACHE_DIR = Path(env.str("SCALPEL_ONNX_CACHE_DIR", default=str(DATA_DIR / "onnx-cache")))
# Bearer token for GET /metrics and /metrics/serving from other hosts (loopback callers need none).
SCALPEL_METRICS_TOKEN = env.str("SCALPEL_METRICS_TOKEN", default="")
# Predictions are counted per tenant and model for this many tenants (and models of each) per
# process; the rest under "other", so the number of series stays bounded.
SCALPEL_METRICS_MAX_TENANTS = env.int("SCALPEL_METRICS_MAX_TENANTS", default=50)
SCALPEL_METRICS_MAX_MODELS_PER_TENANT = env.int("SCALPEL_METRICS_MAX_MODELS_PER_TENANT", default=20)
# Usage counters are buffered in memory and written at most this many seconds later (0: every request).
SCALPEL_USAGE_FLUSH_SECONDS = env.float("SCALPEL_USAGE_FLUSH_SECONDS", default=1.0)
SCALPEL_RATE_LIMIT_PER_KEY_PER_MINUTE = env.int("SCALPEL_RATE_LIMIT_PER_KEY_PER_MINUTE", default=6000)
SCALPEL_RATE_LIMIT_PER_TENANT_PER_MINUTE = env.int("SCALPEL_RATE_LIMIT_PER_TENANT_PER_MINUTE", default=20000)

# Each worker refreshes a heartbeat key in Redis this often (it expires after three missed beats).
SCALPEL_WORKER_HEARTBEAT_SECONDS = env.float("SCALPEL_WORKER_HEARTBEAT_SECONDS", default=10.0)

# Celery: JSON only, explicit limits, light work never queued behind training.
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "inference.tasks.train_model": {"queue": "training"},
    "inference.tasks.batch_predict": {"queue": "default"},
    "inference.tasks.webhook_deliver": {"queue": "default"},
}
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": SCALPEL_TRAINING_TIME_BUDGET_SECONDS + 600,
    # A down or frozen broker fails a send within seconds; the job stays queued and the sweep
    # sends it again (inference/services/training/queue.py).
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# `celery beat` keeps its schedule state in the data folder, not in the directory it was started from.
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "recover-stalled-training-jobs": {
        "task": "inference.tasks.recover_stalled_jobs",
        "schedule": env.float("SCALPEL_SWEEP_INTERVAL_SECONDS", default=30.0),
    },
    "purge-prediction-logs": {"task": "inference.tasks.purge_prediction_logs", "schedule": 3600.0},
    "purge-idempotency-records": {"task": "tenants.tasks.purge_idempotency_records", "schedule": 3600.0},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tenants.api_auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["tenants.api_auth.HasApiKey"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "tenants.api_parsers.DepthLimitedJSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "tenants.api_errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Scalpel API",
    "DESCRIPTION": (
        "Your workspace's datasets, training jobs, model versions and predictions. Send an API key of "
        "your workspace as `Authorization: Bearer <key>`: the key names the workspace, and each "
        "operation says which of the key's scopes it needs. Every error is "
        '`{"error": {"code", "message", "details"}}` with a stable `code` to branch on and a message '
        "that says what to do. Lists take `limit` and `offset` and answer "
        "`{results, count, limit, offset}`."
    ),
    "VERSION": "1.0.0",
    # Relative: the API is served by the host that serves this schema, whatever its name.
    "SERVERS": [{"url": "/", "description": "This Scalpel installation"}],
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # The docs page's assets come from the platform itself: it must work on a closed network.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# JSON lines in production (one object per record: time, level, logger, event, and the request's or
# task's fields); readable lines elsewhere. LOG_FORMAT=json|console overrides.
LOG_FORMAT = env.str("LOG_FORMAT", default=log_format.default_format(SCALPEL_ENV))
# One log line per request (method, path, route, status, duration_ms); runserver prints its own.
SCALPEL_ACCESS_LOG = env.bool("SCALPEL_ACCESS_LOG", default=SCALPEL_ENV == "production")
LOGGING = log_format.logging_config(log_format=LOG_FORMAT, level=env.str("LOG_LEVEL", default="INFO"))
