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

        # A superuser made on the command line gets the access record that the admin writes for its own changes.
        from genai_platform.models import superuser_created
        from generation.access import superuser_created_recorded

        superuser_created.connect(superuser_created_recorded, dispatch_uid="generation.superuser_created")

        # So does a role whose permissions the synchronisation after ``migrate`` changed.
        from genai_platform.roles import role_permissions_synced
        from generation.access import role_permissions_synced_recorded

        role_permissions_synced.connect(role_permissions_synced_recorded, dispatch_uid="generation.roles_synced")

        # Reviewers of a source safety check see the sampled items of the data sets this platform trains on.
        from filing.services import dataset_item_reader_register
        from generation.dataset_items import dataset_items_read

        dataset_item_reader_register(dataset_items_read)

        # The keyword and classifier layers pre-screen those items; the reviewer still decides.
        from filing.services import dataset_item_screener_register
        from generation.screening import dataset_items_screen

        dataset_item_screener_register(dataset_items_screen)

        # The technical sample of a whole corpus reads and screens thousands of items: a worker's job.
        from filing.services import corpus_check_runner_register
        from generation.tasks import corpus_check_enqueue

        corpus_check_runner_register(corpus_check_enqueue)

        # A new password or a deactivation ends the account's API token, whatever saves the user row.
        from django.contrib.auth import get_user_model
        from django.db.models.signals import pre_save

        from generation.accounts import user_pre_save

        pre_save.connect(user_pre_save, sender=get_user_model(), dispatch_uid="generation.user_pre_save")
