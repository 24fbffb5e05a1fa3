"""Training loops for the three nets, with per-epoch reports and the checkpoint of the best epoch.

``train`` is the single entry point; it runs in the caller's process and thread (a Celery worker or
``manage.py train``) and reports through callbacks, so it knows nothing of the database.
"""

from generation.ml.training.base import (
    EVAL_SEED,
    METRIC_NAMES,
    VALIDATION_SEED,
    Clock,
    EpochReport,
    Kind,
    SearchStopped,
    TrainResult,
    png_bytes,
)
from generation.ml.training.gan import GanTrainer, with_calibrated_latent_scale
from generation.ml.training.lm import LmTrainer
from generation.ml.training.loop import train
from generation.ml.training.vae import VaeTrainer

__all__ = [
    "Clock",
    "EVAL_SEED",
    "EpochReport",
    "GanTrainer",
    "Kind",
    "LmTrainer",
    "METRIC_NAMES",
    "SearchStopped",
    "TrainResult",
    "VALIDATION_SEED",
    "VaeTrainer",
    "png_bytes",
    "train",
    "with_calibrated_latent_scale",
]
