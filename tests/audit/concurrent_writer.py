"""Run as a separate process by test_concurrency.py: writes records, rolls some back, seals now and then."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "genai_platform.settings.base")

import django  # noqa: E402

django.setup()

from django.db import transaction  # noqa: E402

from audit import services  # noqa: E402


def main(name: str, count: int) -> None:
    written = 0
    for i in range(count):
        if i % 7 == 3:
            try:
                with transaction.atomic():
                    services.auth_event(event_type="auth.logout", actor_username=f"{name}-rolled-back")
                    raise RuntimeError("rolled back on purpose")
            except RuntimeError:
                pass
        services.generation_event(
            event_type="generation.requested", actor_username=name, payload={"job_id": f"{name}-{i}"}
        )
        written += 1
        if i % 10 == 9:
            services.seals_make(block_size=8)
    print(written)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
