"""The Word documents of the filing package: the application form (上线备案表), filled from the provider,
service, model and dataset records, and the security self-assessment report (安全评估报告)."""

from __future__ import annotations

from typing import Any

from filing.models import ComputeResource, Document, SelfAssessment, Service
from filing.package.office import docx_bytes, docx_new, grid_table, pairs_table, yes
from filing.readiness import assessment_rate_failures
from filing.safety.selectors import keyword_library_version_current, safety_config
from filing.selectors import percent, service_datasets

MAIN_FUNCTION_ZH = {
    "dialogue": "人机对话",
    "text": "文字生成",
    "image": "图片生成",
    "voice": "声音合成",
    "video": "视频合成",
    "code": "代码生成或优化",
}
VERDICT_ZH = {"conforms": "符合", "nonconforming": "不符合", "not_applicable": "不适用", "": "未评"}


def application_form(service: Service) -> bytes:
    """上线备案表, filled from the provider, service, model and dataset records."""
    provider = service.provider
    document = docx_new()
    document.add_heading("生成式人工智能服务上线备案表", level=0)
    document.add_heading("一、主体信息", level=1)
    pairs_table(
        document,
        [
            ("单位名称", provider.legal_name),
            ("统一社会信用代码", provider.uscc),
            ("注册地址", provider.registered_address),
            ("办公地址", provider.office_address),
            ("法定代表人", provider.legal_representative),
            ("安全评估负责人", provider.safety_lead),
            ("安全负责人电话", provider.safety_lead_phone),
            ("安全负责人邮箱", provider.safety_lead_email),
            ("联系人", provider.contact_name),
            ("联系电话", provider.contact_phone),
            ("联系邮箱", provider.contact_email),
            ("单位性质", provider.get_nature_display() if provider.nature else ""),
            ("上级单位", provider.parent_company),
            ("行业主管部门", provider.industry_regulator),
        ],
    )
    document.add_heading("二、服务信息", level=1)
    forms = [
        name
        for flag, name in (
            (service.form_web, "网页"),
            (service.form_app, "App"),
            (service.form_api, "API"),
            (service.form_mini_program, "小程序"),
        )
        if flag
    ]
    functions = dict(Service.MainFunction.choices)
    pairs_table(
        document,
        [
            ("服务名称", service.name),
            ("版本", service.version),
            ("备案类型", "备案" if service.route == Service.Route.FILING else "登记"),
            ("服务形式", "、".join(forms)),
            ("主要功能", MAIN_FUNCTION_ZH.get(service.main_function, str(functions.get(service.main_function, "")))),
            ("服务领域", _domain_zh(service)),
            ("服务对象", service.target_users),
            ("应用场景", service.scenarios),
            ("是否面向未成年人", yes(service.minors_allowed)),
            ("服务边界", service.service_boundary),
            ("访问地址", service.public_url),
            ("上线（公测）日期", service.launch_date.isoformat() if service.launch_date else ""),
            ("算法备案号", service.algorithm_filing_number),
            (
                "投诉举报渠道",
                "；".join(v for v in (service.complaint_email, service.complaint_phone, service.complaint_url) if v),
            ),
        ],
    )
    if service.route == Service.Route.REGISTRATION:
        document.add_heading("三、调用的已备案模型", level=1)
        pairs_table(
            document,
            [
                ("模型名称", service.called_model_name),
                ("备案主体", service.called_model_filer),
                ("备案号", service.called_model_number),
                ("调用协议", "、".join(f"{d.title}（{d.version}）" for d in _call_contracts(service)) or "（缺）"),
            ],
        )
    document.add_heading("三、模型信息" if service.route == Service.Route.FILING else "四、模型信息", level=1)
    grid_table(
        document,
        ("模型名称", "版本", "网络类型", "参数量", "训练框架", "基础模型", "基础模型备案号", "模型代码"),
        (
            (
                record.name,
                record.version,
                record.get_net_type_display(),
                record.parameter_count or "",
                record.training_framework,
                record.base_model,
                record.base_model_filing_number,
                record.code,
            )
            for record in service.model_records.order_by("name", "pk")
        ),
    )
    document.add_heading("语料信息", level=1)
    datasets = list(service_datasets(service))
    pairs_table(
        document,
        [
            ("语料数量（条）", sum(d.items or 0 for d in datasets)),
            ("语料大小（字节）", sum(d.size_bytes or 0 for d in datasets)),
            ("语料来源", "、".join(sorted({d.get_source_type_display() for d in datasets}))),
            ("数据集", "、".join(d.name for d in datasets)),
        ],
    )
    if datasets:
        grid_table(
            document,
            ("数据集", "来源类型", "境内/境外", "数量（条）", "大小（字节）", "许可"),
            (
                (
                    d.name,
                    d.get_source_type_display(),
                    d.get_origin_display(),
                    d.items or "",
                    d.size_bytes or "",
                    d.licence,
                )
                for d in datasets
            ),
        )
    _compute_section(document, service)
    _supply_chain_section(document, service)
    document.add_heading("安全措施", level=1)
    config = safety_config()
    pairs_table(
        document,
        [
            ("拦截关键词库版本", keyword_library_version_current()),
            ("安全阈值配置版本", config.version),
        ],
    )
    return docx_bytes(document)


def _call_contracts(service: Service) -> list[Document]:
    return list(service.documents.filter(kind=Document.Kind.CALL_CONTRACT).order_by("-created_at"))


def _compute_section(document: Any, service: Service) -> None:
    """算力信息: the training and inference servers, accelerators, cloud and location; the inference concurrency."""
    document.add_heading("算力信息", level=1)
    grid_table(
        document,
        ("用途", "服务器", "台数", "加速卡", "加速卡数量", "是否国产", "云服务商", "所在地"),
        (
            (
                "训练" if r.purpose == ComputeResource.Purpose.TRAINING else "推理",
                r.server,
                r.servers,
                r.accelerator or "无（仅 CPU）",
                r.accelerator_count,
                yes(r.domestic),
                r.cloud_provider or "自有服务器",
                r.location,
            )
            for r in service.compute.all()
        ),
    )
    pairs_table(document, [("推理并发数", service.inference_concurrency or "")])


def _supply_chain_section(document: Any, service: Service) -> None:
    """供应链安全评估 (TC260-003 §7 e): each component, its supplier, the risks and measures, the conclusion."""
    document.add_heading("供应链安全评估", level=1)
    conclusions = {"acceptable": "可接受", "with_measures": "采取所述措施后可接受", "not_acceptable": "不可接受"}
    grid_table(
        document,
        ("类别", "组件", "供应商", "是否国产", "风险与措施", "结论", "评估日期"),
        (
            (
                item.get_kind_display(),
                item.name,
                item.supplier,
                yes(item.domestic),
                item.assessment,
                conclusions.get(item.conclusion, item.conclusion),
                item.assessed_on.isoformat(),
            )
            for item in service.supply_chain.all()
        ),
    )


def _domain_zh(service: Service) -> str:
    return "通用" if service.domain == Service.Domain.GENERAL else f"限定领域：{service.restricted_domain}"


def assessment_report(assessment: SelfAssessment | None, service: Service) -> bytes:
    """The security self-assessment report: per-clause table, measured metrics, signers."""
    document = docx_new()
    document.add_heading("生成式人工智能服务安全评估报告", level=0)
    document.add_paragraph(f"服务：{service.name} {service.version}　主体：{service.provider.legal_name}")
    if assessment is None:
        document.add_paragraph("尚无安全评估。")
        return docx_bytes(document)
    document.add_paragraph(f"评估：{assessment.title}（{'已定稿' if assessment.status == 'finalised' else '草稿'}）")
    document.add_heading("一、逐条评估结果", level=1)
    clause_rows = []
    for clause in assessment.clauses.order_by("position", "pk"):
        file_name = clause.evidence_file.name if clause.evidence_file else ""
        evidence = "；".join(v for v in (clause.evidence, clause.evidence_link, file_name) if v)
        clause_rows.append(
            (clause.clause, clause.requirement, VERDICT_ZH[clause.verdict], evidence, clause.reason, clause.owner)
        )
    grid_table(document, ("条款", "要求", "结论", "证据", "理由", "负责人"), clause_rows)
    document.add_heading("二、测评指标", level=1)
    config = safety_config()
    run, check = assessment.assessment_run, assessment.corpus_check
    run_source = f"评估运行 #{run.pk}（种子 {run.seed}）" if run else "无评估运行：未测"
    check_source = f"语料技术抽检 #{check.pk}（种子 {check.seed}）" if check else "无语料技术抽检：未测"
    generated_min = f"≥{percent(config.assessment_generated_pass_rate_min)}"
    metrics = (
        (
            "语料人工抽检合格率",
            assessment.corpus_manual_pass_rate,
            f"≥{percent(config.corpus_manual_pass_rate_min)}",
            "人工填写",
        ),
        (
            "语料技术抽检合格率",
            assessment.corpus_technical_pass_rate,
            f"≥{percent(config.corpus_technical_pass_rate_min)}",
            check_source,
        ),
        ("生成内容合格率（人工）", assessment.generated_pass_rate_manual, generated_min, run_source),
        ("生成内容合格率（关键词）", assessment.generated_pass_rate_keyword, generated_min, run_source),
        ("生成内容合格率（分类模型）", assessment.generated_pass_rate_classifier, generated_min, run_source),
        ("应拒答题拒答率", assessment.refuse_rate, f"≥{percent(config.assessment_refuse_rate_min)}", run_source),
        (
            "非拒答题拒答率",
            assessment.nonrefuse_refusal_rate,
            f"≤{percent(config.assessment_nonrefuse_refusal_rate_max)}",
            run_source,
        ),
    )
    grid_table(
        document,
        ("指标", "测得", "要求", "来源"),
        (
            (str(metric_name), "未测" if measured is None else percent(measured), str(required), source)
            for metric_name, measured, required, source in metrics
        ),
    )
    pairs_table(
        document,
        [
            ("生成内容测试题数", assessment.generated_sample_size),
            ("应拒答测试题数", assessment.refuse_sample_size),
            ("非拒答测试题数", assessment.nonrefuse_sample_size),
        ],
    )
    failures = assessment_rate_failures(assessment, config)
    document.add_heading("三、总体结论", level=1)
    document.add_paragraph(assessment.conclusion or ("各项指标均满足要求。" if not failures else "；".join(failures)))
    document.add_heading("四、签字", level=1)
    pairs_table(
        document,
        [
            ("法定代表人", assessment.legal_representative_signer),
            ("评估工作总负责人", assessment.assessment_lead_signer),
            ("合法性评估负责人", assessment.legality_lead_signer),
            ("说明", assessment.signers_note),
        ],
    )
    return docx_bytes(document)
