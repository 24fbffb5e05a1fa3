"""End-user pages: accounts, generate, job progress, outputs, reports, history and the service's notices.

Who: anyone for the notices, sign-up and log-in; signed-in users with the ``end_user`` role for the
rest. A user only ever reaches their own jobs and outputs; anything else is a 404. The pages call the
same services as the REST API (``generation.api``), which they never import.
"""

from generation.views.accounts import (
    LoginView,
    LogoutView,
    account,
    guardian_consent,
    password_change,
    password_change_done,
    password_reset,
    password_reset_complete,
    password_reset_confirm,
    password_reset_done,
    phone_verify,
    signup,
)
from generation.views.jobs import generate, history, job_cancel_view, job_detail, job_status, output_file, output_report
from generation.views.notices import complaint_track, complaints, privacy, terms, terms_accept_view

__all__ = [
    "LoginView",
    "LogoutView",
    "account",
    "complaint_track",
    "complaints",
    "generate",
    "guardian_consent",
    "history",
    "job_cancel_view",
    "job_detail",
    "job_status",
    "output_file",
    "output_report",
    "password_change",
    "password_change_done",
    "password_reset",
    "password_reset_complete",
    "password_reset_confirm",
    "password_reset_done",
    "phone_verify",
    "privacy",
    "signup",
    "terms",
    "terms_accept_view",
]
