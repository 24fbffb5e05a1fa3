"""What the moderation layers raise when they cannot decide."""

from __future__ import annotations


class ModerationUnavailable(Exception):
    """A moderation layer that must decide could not be loaded; callers must refuse rather than let the text
    through."""
