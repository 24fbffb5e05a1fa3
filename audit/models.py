"""The audit log. This app imports no other app of the project; others write through audit.services."""
