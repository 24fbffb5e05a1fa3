"""The operators' admin of generation: checkpoints, training runs, jobs and outputs, and end users' records.

Importing the modules registers their pages.
"""

from generation.admin import access, checkpoints, jobs, training, users  # noqa: F401
