"""Settings of the load benchmark's web process: the platform's own, with the baseline view's URLs."""

from genai_platform.settings.base import *  # noqa: F403

ROOT_URLCONF = "benchmarks.load_urls"
