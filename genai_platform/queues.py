"""The Celery queues of the platform.

Each queue is served by its own pool of workers so that a long training run never delays an
end user's inference job, and exports never compete with either.
"""

from enum import StrEnum


class Queue(StrEnum):
    DEFAULT = "default"
    INFERENCE = "inference"
    TRAINING = "training"
    EXPORTS = "exports"
