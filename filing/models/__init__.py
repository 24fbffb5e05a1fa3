"""The filing's records, all found here by Django: the provider, its services and their workflow, model
records and datasets (``service``); dataset evidence, source safety checks, corpus technical checks and corpus
manual assessments (``evidence``); documents, the self-assessment and package exports (``records``); complaints,
personal-information requests and incidents (``complaints``); annotation rules, annotators, annotation tasks and
their spot checks (``annotation``); compute and the supply chain (``compute``); the safety records (risk
taxonomy, thresholds, keyword library: ``filing.safety.models``); test banks and assessment runs
(``filing.safety.bank_models``)."""

from filing.models.annotation import AnnotationRule, AnnotationTask, Annotator, SpotCheck
from filing.models.complaints import Complaint, Incident, PersonalInformationRequest
from filing.models.compute import ComputeResource, SupplyChainItem
from filing.models.evidence import (
    CorpusCheck,
    CorpusFinding,
    CorpusReview,
    CorpusReviewItem,
    DatasetEvidence,
    SafetyCheck,
    SampleItem,
)
from filing.models.records import AssessmentClause, Document, FilingExport, SelfAssessment
from filing.models.service import Dataset, ModelRecord, Provider, Service, ServiceTransition
from filing.safety.bank_models import Aspect, AssessmentRun, AssessmentSample, BankKind, TestBank, TestQuestion
from filing.safety.models import (
    AllowlistPhrase,
    Keyword,
    KeywordLibraryVersion,
    Risk,
    RiskCategory,
    SafetyConfigVersion,
    SafetyThreshold,
)

__all__ = [
    "AllowlistPhrase",
    "AnnotationRule",
    "AnnotationTask",
    "Annotator",
    "Aspect",
    "AssessmentClause",
    "AssessmentRun",
    "AssessmentSample",
    "BankKind",
    "Complaint",
    "ComputeResource",
    "CorpusCheck",
    "CorpusFinding",
    "CorpusReview",
    "CorpusReviewItem",
    "Dataset",
    "DatasetEvidence",
    "Document",
    "FilingExport",
    "Incident",
    "Keyword",
    "KeywordLibraryVersion",
    "ModelRecord",
    "PersonalInformationRequest",
    "Provider",
    "Risk",
    "RiskCategory",
    "SafetyCheck",
    "SafetyConfigVersion",
    "SafetyThreshold",
    "SampleItem",
    "SelfAssessment",
    "SpotCheck",
    "Service",
    "ServiceTransition",
    "SupplyChainItem",
    "TestBank",
    "TestQuestion",
]
