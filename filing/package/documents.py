"""The Word documents of the filing package: the application form (上线备案表), filled from the provider,
service, model and dataset records, and the security self-assessment report (安全评估报告)."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from filing.models import ComputeResource, Document, SelfAssessment, Service
from filing.package.office import (
    docx_bytes,
    docx_new,
    grid_table,
    page_break,
    pairs_table,
    signature_block,
    yes,
)
from filing.package.parts import PackageFile, Part, base_name, stored_bytes
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
    document.add_heading("填报声明", level=1)
    document.add_paragraph("本单位对本表所填内容的真实性、准确性、完整性负责。")
    signature_block(document, _signers(provider))
    _commitment_page(document, service)
    return docx_bytes(document)


# The voluntary commitment (自愿承诺书) the legal representative and the safety-assessment lead sign, sealed by the
# provider: the filing's page 0 after the form.
COMMITMENT_PARAGRAPHS = (
    "本单位就“{service}”的生成式人工智能服务上线备案，郑重承诺如下：",
    "一、本次提交的备案表及全部附件内容真实、准确、完整，不存在虚假记载、误导性陈述或重大遗漏。",
    "二、严格遵守《中华人民共和国网络安全法》《中华人民共和国数据安全法》《中华人民共和国个人信息保护法》"
    "《生成式人工智能服务管理暂行办法》等法律法规，落实《生成式人工智能服务安全基本要求》，"
    "建立健全并持续执行算法安全、数据安全、内容安全和个人信息保护等管理制度。",
    "三、训练数据与基础模型来源合法，依法处理个人信息，尊重知识产权。",
    "四、服务上线后，在显著位置公示模型名称及备案号（或上线编号），依法对生成合成内容添加标识，"
    "畅通投诉举报渠道并及时处理。",
    "五、服务发生重大变更或模型重大更新时，重新开展安全评估并依规办理变更手续。",
    "六、自觉接受主管部门的监督检查，如实提供所需材料与技术支持；如违反上述承诺，愿意承担相应的法律责任。",
)


def _signers(provider: Any) -> list[tuple[str, str]]:
    return [("法定代表人", provider.legal_representative), ("安全评估负责人", provider.safety_lead)]


def _commitment_page(document: Any, service: Service) -> None:
    """承诺书: on a page of its own, the commitment text and the signature and seal block."""
    page_break(document)
    document.add_heading("承诺书", level=1)
    for paragraph in COMMITMENT_PARAGRAPHS:
        document.add_paragraph(paragraph.format(service=f"{service.name} {service.version}"))
    document.add_paragraph(f"承诺单位：{service.provider.legal_name}")
    signature_block(document, _signers(service.provider))


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


def _document_rows(doc: Document, stored_name: str, body: bytes) -> list[tuple[str, Any]]:
    published = timezone.localtime(doc.published_at).strftime("%Y-%m-%d %H:%M") if doc.published_at else "未发布"
    return [
        ("标题", doc.title),
        ("版本", doc.version),
        ("生效日期", doc.effective_on.isoformat() if doc.effective_on else ""),
        ("在网站发布", published),
        ("原文件（包内路径）", stored_name),
        ("原文件 SHA-256", hashlib.sha256(body).hexdigest()),
    ]


def _body_paragraphs(document: Any, doc: Document) -> None:
    """The text of ``doc`` as the site shows it (paragraphs separated by an empty line)."""
    paragraphs = [p.strip() for p in doc.body.replace("\r\n", "\n").split("\n\n") if p.strip()]
    if paragraphs:
        document.add_heading("正文", level=2)
        for paragraph in paragraphs:
            document.add_paragraph(paragraph)


# 附件2: the service agreement (2.1) and the privacy policy (2.2), as published on the site.
AGREEMENT_KINDS = (
    (Document.Kind.SERVICE_AGREEMENT, "2.1", "服务协议"),
    (Document.Kind.PRIVACY_POLICY, "2.2", "隐私政策"),
)


def agreement_part(service: Service, *, name: str) -> Part:
    """附件2 模型服务协议: a DOCX (``name``) with the newest published version of the service agreement and of the
    privacy policy (their details and text), and the stored files copied in under 附件2/. A kind with no
    published version is listed as missing."""
    part = Part(name="附件2", title="模型服务协议", number=2)
    document = docx_new()
    document.add_heading("附件2 模型服务协议", level=0)
    document.add_paragraph(f"服务：{service.name} {service.version}　主体：{service.provider.legal_name}")
    copies: list[PackageFile] = []
    for kind, number, title in AGREEMENT_KINDS:
        document.add_heading(f"{number} {title}", level=1)
        doc = service.documents.filter(kind=kind, published_at__isnull=False).order_by("-published_at", "-pk").first()
        if doc is None:
            newest = service.documents.filter(kind=kind).order_by("-created_at", "-pk").first()
            detail = f"仅有未发布的版本 {newest.version}" if newest is not None else "尚无任何版本"
            part.lack(f"{number} {title}（已发布版本）", detail)
            document.add_paragraph(f"缺：{title}尚无在网站发布的版本（{detail}）。")
            continue
        body = stored_bytes(doc.file)
        stored_name = f"附件2/{number}-{title}-v{doc.version}-{base_name(doc.file)}"
        copies.append(PackageFile(stored_name, body, generated=False, note=f"{number} {title} v{doc.version}"))
        pairs_table(document, _document_rows(doc, stored_name, body))
        _body_paragraphs(document, doc)
    part.files = [PackageFile(name, docx_bytes(document)), *copies]
    part.has_content = bool(copies)
    return part


def annotation_rules_docx(service: Service, *, name: str) -> Part:
    """附件3 语料标注规则: the newest version of the service's annotation rules (its details and text in a DOCX
    ``name``, the stored file under 附件3/); without one, 不涉及 with the operator's reason (a registration, which
    only calls a filed model, needs none); without a reason either, missing."""
    part = Part(name="附件3", title="语料标注规则", number=3)
    document = docx_new()
    document.add_heading("附件3 语料标注规则", level=0)
    document.add_paragraph(f"服务：{service.name} {service.version}　主体：{service.provider.legal_name}")
    rules = service.documents.filter(kind=Document.Kind.ANNOTATION_RULES).order_by("-created_at", "-pk").first()
    copies: list[PackageFile] = []
    if rules is not None:
        body = stored_bytes(rules.file)
        stored_name = f"附件3/语料标注规则-v{rules.version}-{base_name(rules.file)}"
        copies.append(PackageFile(stored_name, body, generated=False, note=f"语料标注规则 v{rules.version}"))
        pairs_table(document, _document_rows(rules, stored_name, body))
        _body_paragraphs(document, rules)
    else:
        reason = service.annotation_not_applicable_reason.strip()
        if not reason and service.route == Service.Route.REGISTRATION:
            reason = f"本服务仅调用已备案模型（{service.called_model_name}），未训练或微调模型，不涉及语料标注。"
        if reason:
            part.not_applicable, part.reason = True, reason
            document.add_paragraph("不涉及。")
            document.add_paragraph(f"理由：{reason}")
        else:
            part.lack("语料标注规则", "既无标注规则，也未说明不涉及的理由")
            part.has_content = False
            document.add_paragraph("缺：尚无语料标注规则，也未说明不涉及的理由。")
    part.files = [PackageFile(name, docx_bytes(document)), *copies]
    return part


def api_base_url(service: Service) -> str:
    """Where the API is reached from outside: the platform's public address (``GENAI_PUBLIC_URL``), else the
    service's own address; empty when neither is set."""
    return (settings.PLATFORM_PUBLIC_URL or service.public_url or "").rstrip("/")


# The API calls a tester needs: (URL name, method, what it does).
API_CALLS = (
    ("generation-api:token", "POST", "以用户名和密码换取接口令牌（令牌固定不变，直到撤销）"),
    ("generation-api:token", "DELETE", "撤销本账号的接口令牌"),
    ("generation-api:nets", "GET", "可用的生成类型、参数范围与当日额度"),
    ("generation-api:job-list", "POST", "提交生成任务（异步：返回任务编号）"),
    ("generation-api:job-list", "GET", "本账号的任务列表与状态（轮询结果）"),
    ("generation-api:output-list", "GET", "本账号的生成结果"),
    ("generation-api:report-list", "POST", "举报生成内容"),
    ("api-schema", "GET", "接口规范（OpenAPI）"),
)


def _api_rows(base: str) -> list[tuple[str, str, str]]:
    rows = []
    for url_name, method, what in API_CALLS:
        try:
            path = reverse(url_name)
        except NoReverseMatch:
            continue
        rows.append((method, f"{base}{path}", what))
    return rows


def test_channel_docx(service: Service, *, name: str) -> Part:
    """测试通道: the test accounts (the service's testers, all under the safety strategy), the API endpoint and
    how a caller authenticates. The platform has no account that bypasses the safety strategy: said, and noted."""
    from genai_platform.roles import Role

    part = Part(name="测试通道", title="测试通道说明")
    document = docx_new()
    document.add_heading("测试通道说明", level=0)
    document.add_paragraph(f"服务：{service.name} {service.version}　主体：{service.provider.legal_name}")
    document.add_heading("一、测试账号", level=1)
    document.add_heading("（一）带安全策略的测试账号", level=2)
    testers = list(service.testers.order_by("username").prefetch_related("groups"))
    if testers:
        grid_table(
            document,
            ("账号", "可调用接口（终端用户角色）", "账号状态"),
            (
                (
                    user.get_username(),
                    yes(any(g.name == Role.END_USER.value for g in user.groups.all())),
                    "启用" if user.is_active else "停用",
                )
                for user in testers
            ),
        )
        document.add_paragraph("密码不写入材料包，另行提供给审核人员。")
    else:
        part.lack("带安全策略的测试账号", "服务的测试人员名单为空")
        document.add_paragraph("缺：服务尚无测试账号。")
    document.add_heading("（二）不带安全策略的测试账号", level=2)
    unfiltered = "本平台不提供绕过安全策略的账号：每个账号的输入与生成内容均经过拦截关键词与分类模型审核。"
    document.add_paragraph(unfiltered)
    part.notes.append(unfiltered)
    document.add_heading("二、接口", level=1)
    base = api_base_url(service)
    if not base:
        part.lack("接口地址", "未设置平台对外地址 GENAI_PUBLIC_URL，服务也无访问地址")
        document.add_paragraph("缺：接口地址（平台对外地址未设置）。下列路径相对于该地址。")
    pairs_table(
        document,
        [
            ("接口地址", base or "（缺）"),
            ("认证方式", "令牌：每个请求带请求头 Authorization: Token <令牌>"),
            ("获取令牌", 'POST 令牌接口，JSON 请求体 {"username": 账号, "password": 密码}，返回 {"token": 令牌}'),
            ("数据格式", "JSON（UTF-8）；生成任务为异步：提交后按任务编号查询结果，不提供流式输出"),
            ("错误格式", '{"error": {"code": 错误代码, "message": 说明, "fields": 字段错误}}，并返回相应 HTTP 状态码'),
        ],
    )
    grid_table(document, ("方法", "地址", "用途"), _api_rows(base))
    part.files = [PackageFile(name, docx_bytes(document))]
    return part
