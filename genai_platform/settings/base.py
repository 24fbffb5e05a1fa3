"""Settings of genai-platform, read from the environment.

With no environment at all the platform runs on its embedded default: SQLite in WAL mode and a
Celery broker kept in files, both under ``GENAI_DATA_DIR``. ``DATABASE_URL`` switches to
PostgreSQL, ``REDIS_URL`` / ``CELERY_BROKER_URL`` switch the broker to Redis or RabbitMQ.

``DJANGO_DEBUG=false`` is production mode: every secret must come from the environment, and the
process refuses to start, with one line naming the variable, when one is missing.
README.md lists every variable read here and in the modules this one imports: ``environment`` (debug mode
and the data folder), ``backing_services`` (database, cache, Celery), ``security`` (passwords, the
sign-in lockout, headers, HTTPS) and ``storage`` (stored files: the local folder or an S3-compatible bucket).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from genai_platform.queues import Queue
from genai_platform.settings import secrets

# Groups of settings kept in modules of their own; every name they define is a setting of this module too.
from genai_platform.settings.backing_services import *  # noqa: F403  (DATABASES, CACHES, CELERY_*)
from genai_platform.settings.backing_services import CELERY_BEAT_SCHEDULE, CELERY_BROKER_URL
from genai_platform.settings.environment import BASE_DIR, DATA_DIR, DEBUG, env
from genai_platform.settings.security import *  # noqa: F403  (passwords, the sign-in lockout, SECURE_*, CSP)
from genai_platform.settings.security import TRUSTED_PROXY_COUNT
from genai_platform.settings.storage import *  # noqa: F403  (MEDIA_ROOT, STORAGES, the bucket, downloads)

# ------------------------------------------------------------------------------
# CORE
# ------------------------------------------------------------------------------
SECRET_KEY = secrets.secret_key(debug=DEBUG, data_dir=DATA_DIR)
# Ed25519 keys: one signs the implicit labels of outputs, one seals the audit log.
LABEL_SIGNING_KEY = secrets.signing_key("GENAI_LABEL_SIGNING_KEY", debug=DEBUG, data_dir=DATA_DIR)
AUDIT_SIGNING_KEY = secrets.signing_key("GENAI_AUDIT_SIGNING_KEY", debug=DEBUG, data_dir=DATA_DIR)
# HMAC key of the tag every audit record carries from the moment it is written (base64, at least
# 32 bytes). Keep it out of the database's reach: whoever holds it can forge unsealed records.
AUDIT_TAG_KEY = secrets.hmac_key("GENAI_AUDIT_TAG_KEY", debug=DEBUG, data_dir=DATA_DIR)

if DEBUG:
    ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
else:
    ALLOWED_HOSTS = secrets.required_list("DJANGO_ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "genai_platform.admin_config.PlatformAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    # Before "audit": its receivers of failed sign-ins run first and flag a locked-out attempt (audit.signals).
    "axes",
    "csp",
    "genai_platform",
    "audit",
    "filing",
    "generation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "genai_platform.middleware.PermissionsPolicyMiddleware",
    "genai_platform.hygiene.RequestSizeMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Late in the chain: its process_exception sees a view's database errors before the others do.
    "genai_platform.middleware.DatabaseOutageMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into the page or API answer that says how long to wait.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "genai_platform.urls"
WSGI_APPLICATION = "genai_platform.wsgi.application"
AUTH_USER_MODEL = "genai_platform.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "admin:login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Searched before the apps, so that genai_platform/templates/admin/base_site.html extends the admin's own.
        "DIRS": [BASE_DIR / "genai_platform" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# ------------------------------------------------------------------------------
# INTERNATIONALISATION
# ------------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# ------------------------------------------------------------------------------
# STATIC AND MEDIA FILES
# ------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# MEDIA_ROOT, STORAGES and the bucket: genai_platform.settings.storage.

# ------------------------------------------------------------------------------
# REST FRAMEWORK
# ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "genai_platform.authentication.RoleTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "genai_platform.openapi.BrowsableAPIRenderer",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    # Every string of a request body is checked for characters that cannot be stored (genai_platform.hygiene).
    "DEFAULT_PARSER_CLASSES": [
        "genai_platform.hygiene.JSONParser",
        "genai_platform.hygiene.FormParser",
        "genai_platform.hygiene.MultiPartParser",
    ],
    # Proxies whose X-Forwarded-For the throttles trust: the one setting the client address follows (security).
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}
# ------------------------------------------------------------------------------
# REQUEST INPUT (genai_platform.hygiene)
# ------------------------------------------------------------------------------
# Largest request body, uploaded files not counted; a larger one gets 413 (Django's default, 2.5 MiB).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("GENAI_REQUEST_MAX_BYTES", default=2_621_440)
# An uploaded spreadsheet (keyword library, test bank) is refused before it is read in full when it
# has more rows than this, or when it unpacks to more bytes (XLSX: its zip members; CSV: the file).
IMPORT_MAX_ROWS = env.int("GENAI_IMPORT_MAX_ROWS", default=100_000)
IMPORT_MAX_UNPACKED_BYTES = env.int("GENAI_IMPORT_MAX_UNPACKED_BYTES", default=50 * 1024 * 1024)

SPECTACULAR_SETTINGS = {
    "TITLE": "genai-platform API",
    "DESCRIPTION": "Generation jobs, outputs and reports for end users; audit log for auditors.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # A job's status appears in more than one component (a job, a job read on its own): one enum, one name.
    "ENUM_NAME_OVERRIDES": {"JobStatusEnum": "generation.models.Job.Status"},
}

# ------------------------------------------------------------------------------
# EMAIL
# ------------------------------------------------------------------------------
# smtp://user:password@host:587/?tls=True in production; mail is printed to the console by default.
vars().update(env.email_url("EMAIL_URL", default="consolemail://" if DEBUG else "smtp://localhost:25"))
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="genai-platform <noreply@localhost>")

# ------------------------------------------------------------------------------
# LOGGING: readable lines in development, one JSON object per line in production.
# ------------------------------------------------------------------------------
LOG_FORMAT = env("GENAI_LOG_FORMAT", default="text" if DEBUG else "json")
LOG_LEVEL = env("DJANGO_LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"},
        "json": {"()": "genai_platform.logging.JsonFormatter"},
    },
    "filters": {"client_errors": {"()": "genai_platform.logging.ClientErrorsWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["client_errors"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own development console handler would print each of its lines a second time, unformatted.
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        "django.db.backends": {"level": "WARNING"},
        # django-axes logs each failed sign-in as a warning; the audit log records them (auth.*).
        "axes": {"level": "ERROR"},
        # The filesystem broker has no host name, which kombu warns about on every connection.
        **({"kombu.connection": {"level": "ERROR"}} if CELERY_BROKER_URL.startswith("filesystem://") else {}),
    },
}

# ------------------------------------------------------------------------------
# GENERATION
# ------------------------------------------------------------------------------
# What one job may ask for; the generate page shows these limits and the API enforces them.
GENERATION_LIMITS = {
    "max_images": env.int("GENAI_MAX_IMAGES_PER_JOB", default=16),
    "max_interpolation_steps": 16,
    "max_text_chars": env.int("GENAI_MAX_TEXT_CHARS", default=400),
    "max_prompt_chars": 200,
    "min_temperature": 0.1,
    "max_temperature": 2.0,
    "max_top_k": 200,
}
# Threads each worker process gives torch; with several worker processes per host keep this at 1.
GENAI_TORCH_THREADS = env.int("GENAI_TORCH_THREADS", default=1)
# Where workers train and sample: "auto" (CUDA when torch finds a GPU, else the CPU), "cpu" or "cuda". The value is
# checked here; whether CUDA is present is checked when a worker starts (torch is not imported by this process).
GENAI_TORCH_DEVICE_CHOICES = ("auto", "cpu", "cuda")
GENAI_TORCH_DEVICE = env.str("GENAI_TORCH_DEVICE", default="auto").strip().lower()
if GENAI_TORCH_DEVICE not in GENAI_TORCH_DEVICE_CHOICES:
    secrets.fail(
        f"GENAI_TORCH_DEVICE must be one of {', '.join(GENAI_TORCH_DEVICE_CHOICES)}: "
        f"{env.str('GENAI_TORCH_DEVICE', default='')!r}"
    )
# An inference job is killed after JOB_TIME_LIMIT seconds; the sweeper gives a job that has been
# "running" longer than JOB_STALE_SECONDS (its worker died) back to the queue, and sends again a
# job "queued" for JOB_RESEND_SECONDS (its message was lost), at most JOB_MAX_ATTEMPTS times.
JOB_TIME_LIMIT = 120
JOB_STALE_SECONDS = env.int("GENAI_JOB_STALE_SECONDS", default=300)
JOB_RESEND_SECONDS = env.int("GENAI_JOB_RESEND_SECONDS", default=120)
JOB_MAX_ATTEMPTS = 3
# Backpressure: while this many jobs wait on a queue (stored "queued", not yet started), a submission for that
# queue is refused: 429 with Retry-After from the API, the busy message on the form; 0 means no limit.
# GENAI_QUEUE_DEPTH_LIMITS sets it per queue ("inference=500,default=50"), else GENAI_QUEUE_DEPTH_LIMIT applies.
GENERATION_QUEUE_DEPTH_LIMIT = env.int("GENAI_QUEUE_DEPTH_LIMIT", default=200)
_depth_limits = env("GENAI_QUEUE_DEPTH_LIMITS", default="")
GENERATION_QUEUE_DEPTH_LIMITS: dict[str, int] = {}
for _item in filter(None, (part.strip() for part in _depth_limits.split(","))):
    _queue, _sep, _limit = _item.partition("=")
    if _queue.strip() not in {q.value for q in Queue} or not _limit.strip().isdigit():
        secrets.fail(
            "GENAI_QUEUE_DEPTH_LIMITS must be queue=limit pairs separated by commas, each queue one of "
            f"{', '.join(q.value for q in Queue)} and each limit a whole number: {_depth_limits!r}"
        )
    GENERATION_QUEUE_DEPTH_LIMITS[_queue.strip()] = int(_limit)
# A queued job's place shows when it should start, and a busy refusal when to try again, from the jobs its queue
# finished in this many last minutes (none finished: no estimate, and Retry-After is GENAI_OUTAGE_RETRY_AFTER).
GENERATION_THROUGHPUT_MINUTES = env.float("GENAI_QUEUE_THROUGHPUT_MINUTES", default=5.0)
if not GENERATION_THROUGHPUT_MINUTES > 0:
    secrets.fail(f"GENAI_QUEUE_THROUGHPUT_MINUTES must be a number of minutes above 0: {GENERATION_THROUGHPUT_MINUTES}")
# Longest training run an operator may ask for, in minutes.
TRAINING_MAX_MINUTES = 180
CELERY_BEAT_SCHEDULE["generation-jobs-sweep"] = {
    "task": "generation.jobs_sweep",
    "schedule": 60,
    "options": {"queue": Queue.DEFAULT.value, "expires": 60},
}

# ------------------------------------------------------------------------------
# CONTENT LABELS (generation.labels)
# ------------------------------------------------------------------------------
# A font file that can draw the visible "AI生成" image label. Empty: the CJK font that
# `make setup` installs (Debian package fonts-wqy-microhei), found at its usual path.
LABEL_FONT_PATH = env("GENAI_LABEL_FONT_PATH", default="")

# ------------------------------------------------------------------------------
# AUDIT LOG (audit)
# ------------------------------------------------------------------------------
# Days records and content are kept before the purge may delete them; at least six calendar
# months (the purge refuses less than 184).
AUDIT_RETENTION_DAYS = env.int("GENAI_AUDIT_RETENTION_DAYS", default=190)
# Most records one seal covers; the periodic task seals what is pending every interval.
AUDIT_SEAL_BLOCK_SIZE = env.int("GENAI_AUDIT_SEAL_BLOCK_SIZE", default=1000)
AUDIT_SEAL_INTERVAL_SECONDS = env.int("GENAI_AUDIT_SEAL_INTERVAL", default=60)
# PostgreSQL: how long the sealer waits for transactions that may hold unrecorded sequence numbers.
AUDIT_SEAL_SETTLE_TIMEOUT_SECONDS = env.float("GENAI_AUDIT_SEAL_SETTLE_TIMEOUT", default=10.0)
# How many sequence numbers without a record (PostgreSQL: rolled back or deleted before sealing) audit_verify and
# the integrity banner list by number; the count of all of them is always given.
AUDIT_MISSING_NUMBERS_LISTED = 20
# The newest signed seal is also kept here, outside the database, to detect a cut tail: a local path, or
# s3://bucket/key (on the endpoint of GENAI_S3_ENDPOINT_URL). With several hosts, point it at storage the sealing
# workers share and the database admins cannot write.
AUDIT_ANCHOR_PATH = env("GENAI_AUDIT_ANCHOR_PATH", default=str(DATA_DIR / "audit" / "last-seal.json"))
# Credentials that may write the anchor's object, when they are not the stored files' (GENAI_S3_ACCESS_KEY_ID).
AUDIT_ANCHOR_S3_ACCESS_KEY_ID = env("GENAI_AUDIT_ANCHOR_S3_ACCESS_KEY_ID", default="")
AUDIT_ANCHOR_S3_SECRET_ACCESS_KEY = env("GENAI_AUDIT_ANCHOR_S3_SECRET_ACCESS_KEY", default="")
# Key of the keyed hash that stands for people in pseudonymised exports; derived from
# SECRET_KEY when unset (then rotating SECRET_KEY changes the pseudonyms).
AUDIT_PSEUDONYM_KEY = env("GENAI_AUDIT_PSEUDONYM_KEY", default="")
# The client address of each record follows TRUSTED_PROXY_COUNT (settings.security). Its port: the request header
# (Django META name) with the client port behind a proxy; empty means REMOTE_PORT.
AUDIT_CLIENT_PORT_HEADER = env("GENAI_AUDIT_CLIENT_PORT_HEADER", default="")
# Exports up to this many rows stream straight to the browser; larger ones run on the exports queue.
AUDIT_EXPORT_STREAM_MAX_ROWS = env.int("GENAI_AUDIT_EXPORT_STREAM_MAX_ROWS", default=50_000)
# A workbook is written whole before it is sent, so XLSX exports are built in the request only up to this many rows.
AUDIT_EXPORT_XLSX_STREAM_MAX_ROWS = env.int("GENAI_AUDIT_EXPORT_XLSX_STREAM_MAX_ROWS", default=10_000)
# The auditors' pages show and read times in this zone (an IANA name), Beijing time unless set.
AUDIT_TIME_ZONE = env("GENAI_AUDIT_TIME_ZONE", default=TIME_ZONE)
try:
    ZoneInfo(AUDIT_TIME_ZONE)
except (ZoneInfoNotFoundError, ValueError):
    secrets.fail(f"GENAI_AUDIT_TIME_ZONE is not a time zone name such as Asia/Shanghai: {AUDIT_TIME_ZONE!r}")
# The log page: records per page, the range it opens with (one of audit.explorer.PRESETS), the most bars its
# histogram draws (the bar width is the smallest that keeps to it), and how often the integrity banner asks
# how a running verification is getting on.
AUDIT_LOG_PAGE_SIZE = 50
# A page is looked for first among this many sequence numbers next to where it starts (audit.explorer).
AUDIT_LOG_PAGE_WINDOW = 20_000
AUDIT_LOG_DEFAULT_RANGE = "24h"
AUDIT_HISTOGRAM_MAX_BARS = 100
# The dashboard: risk codes in its top list, complaints listed in its table.
AUDIT_DASHBOARD_TOP_CODES = 10
AUDIT_DASHBOARD_TABLE_ROWS = 20
AUDIT_BANNER_POLL_SECONDS = 2
# The dashboard reads rollups of the log (audit.services.rollups) and the records not yet folded into them. A
# dashboard view folds at most this many records first (the rest stay read from the log); the periodic sealing
# task folds at most the second number each run.
AUDIT_ROLLUP_INLINE_MAX_RECORDS = env.int("GENAI_AUDIT_ROLLUP_INLINE_MAX_RECORDS", default=20_000)
AUDIT_ROLLUP_TASK_MAX_RECORDS = env.int("GENAI_AUDIT_ROLLUP_TASK_MAX_RECORDS", default=2_000_000)
# After changing GENAI_AUDIT_SIGNING_KEY, list the earlier public keys (base64, comma-separated;
# see /audit/public-key) so that the seals and manifests they signed still verify.
AUDIT_PREVIOUS_PUBLIC_KEYS = env.list("GENAI_AUDIT_PREVIOUS_PUBLIC_KEYS", default=[])
CELERY_BEAT_SCHEDULE |= {
    "audit-seal": {
        "task": "audit.seal",
        "schedule": AUDIT_SEAL_INTERVAL_SECONDS,
        "options": {"queue": Queue.DEFAULT.value, "expires": AUDIT_SEAL_INTERVAL_SECONDS},
    },
    "audit-verify": {"task": "audit.verify", "schedule": 6 * 3600, "options": {"queue": Queue.DEFAULT.value}},
    "audit-purge": {"task": "audit.purge", "schedule": 24 * 3600, "options": {"queue": Queue.DEFAULT.value}},
}

# ------------------------------------------------------------------------------
# MODERATION (generation.moderation)
# ------------------------------------------------------------------------------
# How often, at most, each process asks the database for the keyword library version; a change
# reaches every web and worker process within this many seconds, without a restart.
MODERATION_VERSION_CHECK_SECONDS = env.float("GENAI_MODERATION_VERSION_CHECK_SECONDS", default=2.0)

# ------------------------------------------------------------------------------
# END USERS: web pages and REST API (generation.views, generation.api)
# ------------------------------------------------------------------------------
# Jobs one end user may submit per calendar day (TIME_ZONE); 0 means no limit.
GENERATION_DAILY_QUOTA = env.int("GENAI_DAILY_JOB_QUOTA", default=50)
# The job page asks for its job's state this soon after loading, then twice as long after each answer
# that changes nothing, up to the most: a quick job shows its result at once, a long one costs little.
GENERATION_JOB_POLL_FIRST_SECONDS = 0.1
GENERATION_JOB_POLL_MAX_SECONDS = 2.0
# Hours an Idempotency-Key of a job submission stays bound to its job (IETF Idempotency-Key draft); after
# that the same key makes a new job.
GENERATION_IDEMPOTENCY_KEY_HOURS = env.float("GENAI_IDEMPOTENCY_KEY_HOURS", default=24.0)
# Requests per user to the end-user API, and job submissions per user (web and API), as "N/period".
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    "enduser": env("GENAI_API_RATE", default="120/min"),
    "enduser_jobs": env("GENAI_API_JOB_RATE", default="20/min"),
    "token": env("GENAI_API_TOKEN_RATE", default="10/min"),
}
REST_FRAMEWORK["EXCEPTION_HANDLER"] = "generation.api.errors.exception_handler"
# Days within which a report of an output gets an answer; shown on the complaints page.
COMPLAINT_RESPONSE_DAYS = env.int("GENAI_COMPLAINT_RESPONSE_DAYS", default=7)
# The admin home lists open complaints whose answer is due within this many days (and overdue ones).
COMPLAINT_DUE_SOON_DAYS = env.int("GENAI_COMPLAINT_DUE_SOON_DAYS", default=2)
# Working days (Monday to Friday) within which a personal-information request is answered (PIPL Art 50).
PI_REQUEST_WORKING_DAYS = env.int("GENAI_PI_REQUEST_WORKING_DAYS", default=15)
# Complaints one address may send without an account per hour (the form is open to anyone).
COMPLAINTS_ANONYMOUS_PER_HOUR = env.int("GENAI_COMPLAINTS_ANONYMOUS_PER_HOUR", default=10)
# Days between asking to close an account and its closure; signing in again before then cancels it.
ACCOUNT_CLOSURE_COOLING_OFF_DAYS = env.int("GENAI_ACCOUNT_CLOSURE_COOLING_OFF_DAYS", default=7)
# Real-name verification: the text-message sender (a dotted path; generation.sms.ConsoleBackend writes
# the code to the log, generation.sms.HttpGatewayBackend posts it to GENAI_SMS_GATEWAY_URL with the token),
# how long a code lasts, how many wrong tries it takes and how soon a new code may be sent.
SMS_BACKEND = env("GENAI_SMS_BACKEND", default="generation.sms.ConsoleBackend")
SMS_GATEWAY_URL = env("GENAI_SMS_GATEWAY_URL", default="")
SMS_GATEWAY_TOKEN = env("GENAI_SMS_GATEWAY_TOKEN", default="")
PHONE_CODE_TTL_SECONDS = env.int("GENAI_PHONE_CODE_TTL_SECONDS", default=300)
PHONE_CODE_MAX_ATTEMPTS = env.int("GENAI_PHONE_CODE_MAX_ATTEMPTS", default=5)
PHONE_CODE_RESEND_SECONDS = env.int("GENAI_PHONE_CODE_RESEND_SECONDS", default=60)
# Key that encrypts stored personal information (verified phone numbers, guardians' contacts); derived from
# SECRET_KEY when unset (then rotating SECRET_KEY makes the stored numbers unreadable: set it in production).
PI_ENCRYPTION_KEY = env("GENAI_PI_ENCRYPTION_KEY", default="")
# Minor mode (users under MINOR_AGE, where the public service admits minors): jobs per day, the night hours
# (local time, HH:MM) without service, and whether content the keyword library only flags is refused.
MINOR_AGE = 18
MINOR_DAILY_JOBS = env.int("GENAI_MINOR_DAILY_JOBS", default=10)
MINOR_NIGHT_START = env("GENAI_MINOR_NIGHT_START", default="22:00")
MINOR_NIGHT_END = env("GENAI_MINOR_NIGHT_END", default="08:00")
MINOR_BLOCK_FLAGGED = env.bool("GENAI_MINOR_BLOCK_FLAGGED", default=True)
CELERY_BEAT_SCHEDULE["generation-account-closures"] = {
    "task": "generation.account_closures",
    "schedule": 3600,
    "options": {"queue": Queue.DEFAULT.value, "expires": 3600},
}
INSTALLED_APPS += ["drf_spectacular_sidecar"]
SPECTACULAR_SETTINGS |= {"SWAGGER_UI_DIST": "SIDECAR", "SWAGGER_UI_FAVICON_HREF": "SIDECAR"}

# ------------------------------------------------------------------------------
# FILING (filing)
# ------------------------------------------------------------------------------
# Names the acting user of each request in the change history of filing records.
MIDDLEWARE += ["filing.middleware.FilingActorMiddleware"]
# Four eyes: approving a model record, finalising a self-assessment and submitting a filing are refused to the
# person who last changed the record (filing.services.four_eyes); false lets that person do them too.
FILING_FOUR_EYES = env.bool("GENAI_FILING_FOUR_EYES", default=True)
# The platform's address as the public and the regulator reach it (scheme and host, e.g. https://ai.example.cn):
# the filing package's test channel gives it as the API endpoint. Empty: the service's own public URL is given.
PLATFORM_PUBLIC_URL = env("GENAI_PUBLIC_URL", default="")
# The source safety check of one dataset (TC260-003 §5.1 a)) samples ``corpus_source_sample_min`` items of the safety
# configuration (1,000 as shipped; the whole dataset when it is smaller). This is the least that setting, or a
# sample asked for when a check starts, may be: near the 5% threshold a 400-item sample still reads the illegal share
# within about ±2 points (95% confidence). It is not the whole-corpus assessment's 4,000 items (§9.2 a)).
FILING_SOURCE_SAMPLE_FLOOR = env.int("GENAI_FILING_SOURCE_SAMPLE_FLOOR", default=400)
# The manual assessment of a service's whole corpus (TC260-003 §9.2 a)) samples ``corpus_manual_sample_min`` items of
# all its training data; the standard asks for at least 4,000, so that setting may not go below this.
FILING_CORPUS_MANUAL_SAMPLE_FLOOR = env.int("GENAI_FILING_CORPUS_MANUAL_SAMPLE_FLOOR", default=4000)
