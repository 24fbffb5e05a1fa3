"""Settings of the backing services: the database, the cache and the Celery broker, with the periodic tasks.

With no environment they are the embedded default: SQLite in WAL mode, a file cache and a broker kept in files,
all under ``GENAI_DATA_DIR``. ``DATABASE_URL`` switches to PostgreSQL, ``REDIS_URL`` / ``CELERY_BROKER_URL``
switch the cache and the broker to Redis or RabbitMQ.
"""

from __future__ import annotations

from kombu import Queue as KombuQueue

from genai_platform.queues import Queue
from genai_platform.settings import secrets
from genai_platform.settings.environment import DATA_DIR, env

# ------------------------------------------------------------------------------
# DATABASES
# ------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while a worker writes; IMMEDIATE transactions take the write
    # lock up front, so two writers queue on the timeout instead of failing with
    # "database is locked" when a read lock cannot be upgraded.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": env.int("GENAI_SQLITE_TIMEOUT", default=30),
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# ------------------------------------------------------------------------------
# CACHES
# ------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
# While Redis is unreachable the cache falls back to one in each process (genai_platform.cache), and
# tries Redis again after CACHE_RETRY_SECONDS; a short socket timeout keeps a lost Redis from stalling requests.
CACHE_RETRY_SECONDS = env.float("GENAI_CACHE_RETRY_SECONDS", default=5.0)
CACHE_SOCKET_TIMEOUT_SECONDS = env.float("GENAI_CACHE_SOCKET_TIMEOUT", default=1.0)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "genai_platform.cache.FallbackRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": CACHE_SOCKET_TIMEOUT_SECONDS,
                "socket_timeout": CACHE_SOCKET_TIMEOUT_SECONDS,
            },
        }
    }
else:
    # Web and worker are separate processes: a file cache is shared by both, locmem would not be.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    }

# ------------------------------------------------------------------------------
# CELERY
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
# ------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
BROKER_DIR = DATA_DIR / "broker"
# Files raise no event, so an idle worker of the embedded broker looks for new messages this often;
# it is also the longest a queued message waits there (kombu's own default, 1 s, showed on every job).
_poll_seconds = env("GENAI_EMBEDDED_BROKER_POLL_SECONDS", default="0.02")
try:
    EMBEDDED_BROKER_POLL_SECONDS = float(_poll_seconds)
except ValueError:
    EMBEDDED_BROKER_POLL_SECONDS = 0.0
if not 0 < EMBEDDED_BROKER_POLL_SECONDS <= 10:
    secrets.fail(
        f"GENAI_EMBEDDED_BROKER_POLL_SECONDS must be a number of seconds above 0, at most 10: {_poll_seconds!r}"
    )
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    # kombu's filesystem transport, writing each message before it becomes visible (see the module).
    CELERY_BROKER_TRANSPORT = "genai_platform.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": EMBEDDED_BROKER_POLL_SECONDS,
    }
else:
    # A message not acknowledged within this time is delivered again. Tasks are idempotent and
    # training runs checkpoint, so the value bounds recovery time rather than correctness.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=4 * 3600),
    }
CELERY_BROKER_CONNECTION_TIMEOUT = 3
# What a client is told to wait (Retry-After) when the database or the broker is unreachable.
OUTAGE_RETRY_AFTER_SECONDS = env.int("GENAI_OUTAGE_RETRY_AFTER", default=30)
# A job submission checks that the broker answers before storing the job; a good answer is trusted this long.
BROKER_CHECK_SECONDS = env.float("GENAI_BROKER_CHECK_SECONDS", default=2.0)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# The database row of each job is the source of truth; the broker carries ids only.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = Queue.DEFAULT.value
CELERY_TASK_QUEUES = [KombuQueue(q.value, routing_key=q.value) for q in Queue]
CELERY_TASK_CREATE_MISSING_QUEUES = False
# Which queue each task goes to, by task name; anything not listed goes to "default".
CELERY_TASK_ROUTES = {
    "generation.job_run": {"queue": Queue.INFERENCE.value},
    "generation.training_*": {"queue": Queue.TRAINING.value},
    # An assessment answers thousands of questions: batch work, kept off the end users' queue.
    "generation.assessment_run": {"queue": Queue.TRAINING.value},
    "generation.corpus_check": {"queue": Queue.TRAINING.value},
    "*.export*": {"queue": Queue.EXPORTS.value},
}
# Messages each worker process holds beyond the one it runs: 1 lets an idle process take any waiting job.
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_WORKER_PREFETCH_MULTIPLIER", default=1)
# Celery's Django fix-up closes a worker's database connections around every task unless this is set; then only
# every this many tasks. The platform's own task signals (genai_platform/celery.py) apply Django's CONN_MAX_AGE and
# health checks instead, so a worker keeps one connection while it is usable.
CELERY_DB_REUSE_MAX = 1000
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=15 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 30
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Task events (received, started, succeeded) for monitors such as ``celery events`` or Flower: messages to the
# broker around every task, which hold a worker between jobs, so they are off unless a monitor asks for them.
CELERY_WORKER_SEND_TASK_EVENTS = env.bool("GENAI_CELERY_TASK_EVENTS", default=False)
CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
HEARTBEAT_INTERVAL_SECONDS = env.int("GENAI_HEARTBEAT_INTERVAL", default=60)
CELERY_BEAT_SCHEDULE = {
    f"heartbeat-{queue.value}": {
        "task": "platform.heartbeat",
        "schedule": HEARTBEAT_INTERVAL_SECONDS,
        "kwargs": {"queue": queue.value},
        "options": {"queue": queue.value, "expires": HEARTBEAT_INTERVAL_SECONDS},
    }
    for queue in Queue
}
