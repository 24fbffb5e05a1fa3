"""Runtime records of generation: checkpoints, training runs, jobs and outputs (Django ORM only)."""
