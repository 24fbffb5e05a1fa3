"""Settings of the load benchmark's processes: the platform's own with DEBUG off (no query log, no debug pages,
as in production), with the baseline views' URLs. The secrets stay those of development mode, kept in the
benchmark's scratch data directory."""

from genai_platform.settings.base import *  # noqa: F403

ROOT_URLCONF = "benchmarks.load_urls"
DEBUG = False
