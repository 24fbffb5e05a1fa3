"""The load benchmark's set-up steps, run in the benchmark's scratch environment.

python -m benchmarks.load_app users 20     # make 20 end users who may generate; prints their tokens
python -m benchmarks.load_app jobs < ids   # prints the status of each job id read from stdin (JSON)
"""

from __future__ import annotations

import json
import sys
from datetime import date


def users_make(count: int) -> list[str]:
    """End users who may generate on the demo service (testers, adults, verified), with their API tokens."""
    from django.contrib.auth import get_user_model

    from filing.models import Service
    from genai_platform.roles import Role
    from generation.access import user_role_add
    from generation.accounts import token_replace
    from generation.identity import _verification_store, verification_of
    from generation.minors import age_declare
    from generation.terms import terms_accept

    service = Service.objects.get(is_public=True)
    tokens = []
    for i in range(count):
        user, created = get_user_model().objects.get_or_create(username=f"load{i:03d}")
        if created:
            user_role_add(user=user, role=Role.END_USER)
            age_declare(user=user, date_of_birth=date(1990, 1, 1))
            if verification_of(user) is None:
                # A distinct number each (a number verifies one account); no message is sent.
                _verification_store(user, f"139{i:08d}")
            terms_accept(user=user)
            if service.in_internal_testing:
                service.testers.add(user)
        tokens.append(token_replace(user=user))
    return tokens


def jobs_status(public_ids: list[str]) -> dict[str, str]:
    from generation.models import Job

    found = dict(Job.objects.filter(public_id__in=public_ids).values_list("public_id", "status"))
    return {str(k): v for k, v in found.items()}


def main(argv: list[str]) -> int:
    import django

    django.setup()
    if argv[:1] == ["users"]:
        print(json.dumps(users_make(int(argv[1]))))
        return 0
    if argv[:1] == ["jobs"]:
        print(json.dumps(jobs_status(json.load(sys.stdin))))
        return 0
    print("Usage: python -m benchmarks.load_app users N | jobs < ids.json", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
