"""What every settings module reads first: the environment, the checkout's folder, debug mode and the data folder."""

from __future__ import annotations

from pathlib import Path

import environ

env = environ.Env()

BASE_DIR = Path(__file__).resolve().parent.parent.parent

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# Where the embedded default keeps its database, broker files, media and generated keys.
DATA_DIR = Path(env("GENAI_DATA_DIR", default=str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)
