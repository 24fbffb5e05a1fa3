from typing import Any

from django.core.management.base import BaseCommand

from genai_platform.settings.secrets import signing_key_new


class Command(BaseCommand):
    help = (
        "Print a new key: 32 random bytes in base64, the form GENAI_LABEL_SIGNING_KEY, GENAI_AUDIT_SIGNING_KEY "
        "(Ed25519 seeds) and GENAI_AUDIT_TAG_KEY (HMAC) take."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(signing_key_new())
