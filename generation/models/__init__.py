"""Runtime records of generation: nets (checkpoints, training runs), jobs and outputs, and what concerns end users
(Django ORM only). Torch code lives in ``generation/ml/``; nothing here imports it.
"""

from generation.models.jobs import Job, Output
from generation.models.nets import (
    DEFAULT_TRAINING_DATA,
    GENERATOR_CHOICES,
    GENERATOR_KINDS,
    NET_TYPE_OF_KIND,
    TRAINING_DATA_OF_KIND,
    Checkpoint,
    NetKind,
    TrainingData,
    TrainingEpoch,
    TrainingRun,
)
from generation.models.users import (
    AccountClosure,
    AgeDeclaration,
    DailyUsage,
    PhoneCode,
    PhoneVerification,
    RefusalStreak,
    Suspension,
    TermsAcceptance,
    UserSettings,
)

__all__ = [
    "AccountClosure",
    "AgeDeclaration",
    "Checkpoint",
    "DEFAULT_TRAINING_DATA",
    "GENERATOR_CHOICES",
    "GENERATOR_KINDS",
    "DailyUsage",
    "Job",
    "NET_TYPE_OF_KIND",
    "TRAINING_DATA_OF_KIND",
    "NetKind",
    "Output",
    "PhoneCode",
    "PhoneVerification",
    "RefusalStreak",
    "Suspension",
    "TermsAcceptance",
    "TrainingData",
    "TrainingEpoch",
    "TrainingRun",
    "UserSettings",
]
