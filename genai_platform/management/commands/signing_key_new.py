from typing import Any

from django.core.management.base import BaseCommand

from genai_platform.settings.secrets import signing_key_new


class Command(BaseCommand):
    help = "Print a new Ed25519 signing key (base64 seed) for GENAI_LABEL_SIGNING_KEY or GENAI_AUDIT_SIGNING_KEY."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(signing_key_new())
