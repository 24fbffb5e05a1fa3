from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GenerationConfig(AppConfig):
    name = "generation"
    verbose_name = _("Generation")

    def ready(self) -> None:
        # Registers the start-up check that a CJK font for the visible image label exists.
        # The filing's assessments are run by this app's nets, on its workers.
        from filing.safety.assessments import assessment_runner_register
        from generation.labels import checks  # noqa: F401
        from generation.tasks import assessment_run_enqueue

        assessment_runner_register(assessment_run_enqueue)

        # Reviewers of a source safety check see the sampled items of the data sets this platform trains on.
        from filing.services import dataset_item_reader_register
        from generation.dataset_items import dataset_items_read

        dataset_item_reader_register(dataset_items_read)

        # A new password or a deactivation ends the account's API token, whatever saves the user row.
        from django.contrib.auth import get_user_model
        from django.db.models.signals import pre_save

        from generation.accounts import user_pre_save

        pre_save.connect(user_pre_save, sender=get_user_model(), dispatch_uid="generation.user_pre_save")
