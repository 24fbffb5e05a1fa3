"""The audit log: records, seals, content kept apart, legal holds and exports.

``LogEntry``, ``Seal``, ``SequenceCounter`` and ``PurgePermit`` are unmanaged: their tables and the
triggers that make the log append-only are created by hand-written SQL per database vendor in
``migrations/0001_initial.py``. Being unmanaged also keeps them out of Django's ``flush`` (which
truncates every managed table and would be refused by the triggers), so test suites that flush
the database leave the log alone. A change of their schema needs a new hand-written migration.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import connection, models
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext_lazy as _


class Decision(models.TextChoices):
    """Moderation verdict recorded with a generation event."""

    NONE = "", _("none")
    ALLOWED = "allowed", _("allowed")
    REFUSED = "refused", _("refused")
    BLOCKED = "blocked", _("blocked")


class LogEntryQuerySet(models.QuerySet["LogEntry"]):
    def with_risk_code(self, code: str) -> LogEntryQuerySet:
        """Records naming ``code``, or with ``A.1.*`` any code of the class ``A.1`` (``A.1`` itself included)."""
        # risk_codes holds the sorted codes joined by ';'.
        if code.endswith(".*"):
            whole = code[:-2]
            return self.with_risk_code(whole) | self.filter(
                models.Q(risk_codes__startswith=f"{whole}.") | models.Q(risk_codes__contains=f";{whole}.")
            )
        return self.filter(
            models.Q(risk_codes=code)
            | models.Q(risk_codes__startswith=f"{code};")
            | models.Q(risk_codes__endswith=f";{code}")
            | models.Q(risk_codes__contains=f";{code};")
        )

    def matching(self, text: str) -> LogEntryQuerySet:
        """Records whose subject or payload contains ``text``, case-insensitively.

        The payload is searched as stored: compact JSON with Chinese as it is, so its values and its keys
        match (a quote inside a value is stored as ``\\"``). PostgreSQL: ILIKE on ``audit_search_text``, the
        expression of the trigram index (migration 0004), which narrows any search of three characters or
        more. SQLite: LIKE, unindexed (case-insensitive for ASCII letters only).
        """
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        if connection.vendor == "postgresql":
            sql = "audit_search_text(subject_repr, payload) ILIKE %s"
            params: tuple[str, ...] = (pattern,)
        else:
            sql = "(subject_repr LIKE %s ESCAPE '\\' OR payload LIKE %s ESCAPE '\\')"
            params = (pattern, pattern)
        return self.filter(RawSQL(sql, params, output_field=models.BooleanField()))  # noqa: S611 (constant SQL)

    def of_event_type(self, pattern: str) -> LogEntryQuerySet:
        """``generation.refused`` exactly, or a whole family with ``generation.*``."""
        if pattern.endswith(".*"):
            return self.filter(event_type__startswith=pattern[:-1])
        return self.filter(event_type=pattern)


class LogEntry(models.Model):
    """One record of the append-only audit log.

    Who and what are kept as text snapshots, never as foreign keys, so a record outlives what it
    names. Content (prompt text, output files) lives in ``Content``, referenced by its SHA-256, so
    it can be purged or withheld while the record and its hash stay. Written only by
    ``audit.services``; ``record_hash`` covers every column except ``seq`` and ``record_tag``, and
    ``record_tag`` covers ``seq`` and ``record_hash`` (see ``audit.integrity``).
    """

    seq = models.BigIntegerField(_("sequence number"), primary_key=True)
    created_at = models.DateTimeField(_("time"))
    actor_id = models.CharField(_("actor id"), max_length=64, blank=True)
    actor_username = models.CharField(_("actor"), max_length=150, blank=True)
    source_ip = models.CharField(_("source IP"), max_length=45, blank=True)
    source_port = models.IntegerField(_("source port"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=512, blank=True)
    event_type = models.CharField(_("event type"), max_length=64)
    subject_kind = models.CharField(_("subject kind"), max_length=64, blank=True)
    subject_id = models.CharField(_("subject id"), max_length=64, blank=True)
    subject_repr = models.CharField(_("subject"), max_length=255, blank=True)
    filing_number = models.CharField(_("service filing number"), max_length=64, blank=True)
    model_record = models.CharField(_("model record"), max_length=128, blank=True)
    checkpoint_sha256 = models.CharField(_("checkpoint SHA-256"), max_length=64, blank=True)
    keyword_library_version = models.CharField(_("keyword library version"), max_length=64, blank=True)
    decision = models.CharField(_("decision"), max_length=16, blank=True, choices=Decision.choices)
    risk_codes = models.CharField(_("risk codes"), max_length=512, blank=True)
    produce_id = models.CharField(_("ProduceID"), max_length=64, blank=True)
    input_sha256 = models.CharField(_("input SHA-256"), max_length=64, blank=True)
    output_sha256 = models.CharField(_("output SHA-256"), max_length=64, blank=True)
    payload = models.TextField(_("payload"), default="{}")
    record_hash = models.CharField(_("record hash"), max_length=64)
    # HMAC of seq and record_hash with a key outside the database (see ``audit.integrity``); empty on
    # records sealed before tags existed.
    record_tag = models.CharField(_("record tag"), max_length=64, blank=True)

    objects = LogEntryQuerySet.as_manager()

    class Meta:
        managed = False
        db_table = "audit_logentry"
        ordering = ("seq",)
        verbose_name = _("log record")
        verbose_name_plural = _("log records")
        permissions = [
            ("export_logentry", _("Can export log records")),
            ("read_content", _("Can read and export prompt and output content")),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.event_type}"

    @property
    def payload_data(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.payload)
        return data

    @property
    def risk_code_list(self) -> list[str]:
        return [code for code in self.risk_codes.split(";") if code]


class SequenceCounter(models.Model):
    """SQLite only: the single row holding the last sequence number given out.

    A writer increments it and inserts its record in the same transaction, so a rolled-back record
    gives its number back. PostgreSQL uses the sequence ``audit_logentry_seq`` instead (see
    ``audit.services``); read the last number given out with ``services.numbers_given_out()``.
    """

    id = models.SmallIntegerField(primary_key=True)
    last_seq = models.BigIntegerField()

    class Meta:
        managed = False
        db_table = "audit_sequence"

    def __str__(self) -> str:
        return f"last sequence number {self.last_seq}"


class Seal(models.Model):
    """A signed seal over records ``first_seq..last_seq``, chained to the previous seal."""

    number = models.BigIntegerField(_("number"), primary_key=True)
    first_seq = models.BigIntegerField(_("first sequence number"))
    last_seq = models.BigIntegerField(_("last sequence number"))
    record_count = models.IntegerField(_("records"))
    merkle_root = models.CharField(_("Merkle root"), max_length=64)
    leaf_digests = models.TextField(_("record digests"))
    prev_seal_hash = models.CharField(_("previous seal hash"), max_length=64)
    seal_hash = models.CharField(_("seal hash"), max_length=64)
    sealed_at = models.CharField(_("sealed at"), max_length=32)
    key_id = models.CharField(_("key id"), max_length=16)
    signature = models.CharField(_("signature"), max_length=128)

    class Meta:
        managed = False
        db_table = "audit_seal"
        ordering = ("number",)
        verbose_name = _("seal")
        verbose_name_plural = _("seals")

    def __str__(self) -> str:
        return f"seal {self.number} ({self.first_seq}-{self.last_seq})"

    def leaf_digest_list(self) -> list[str]:
        from audit.integrity import LEAF_DIGEST_CHARS

        d = self.leaf_digests
        return [d[i : i + LEAF_DIGEST_CHARS] for i in range(0, len(d), LEAF_DIGEST_CHARS)]


class PurgePermit(models.Model):
    """Present only inside a purge transaction: the DELETE trigger lets through records in its range."""

    id = models.BigAutoField(primary_key=True)
    first_seq = models.BigIntegerField()
    last_seq = models.BigIntegerField()

    class Meta:
        managed = False
        db_table = "audit_purgepermit"

    def __str__(self) -> str:
        return f"purge permit {self.first_seq}-{self.last_seq}"


class Content(models.Model):
    """Prompt text or output bytes, keyed by SHA-256 and referenced by records' digests.

    Kept apart so it can be purged at the end of retention, or withheld, without touching records.
    """

    digest = models.CharField(_("SHA-256"), max_length=64, primary_key=True)
    media_type = models.CharField(_("media type"), max_length=100)
    size = models.BigIntegerField(_("size"))
    body = models.BinaryField(_("body"))
    created_at = models.DateTimeField(_("stored at"), db_index=True)

    class Meta:
        verbose_name = _("content")
        verbose_name_plural = _("contents")

    def __str__(self) -> str:
        return f"{self.digest[:12]} ({self.media_type}, {self.size} B)"

    def as_text(self) -> str:
        """Text content as is; anything else as ``base64:`` followed by its base64."""
        import base64

        raw = bytes(self.body)
        if self.media_type.startswith("text/"):
            return raw.decode("utf-8", errors="replace")
        return "base64:" + base64.b64encode(raw).decode()


class LegalHold(models.Model):
    """While active, records of the held actor or subject, and their content, are not purged."""

    actor_id = models.CharField(_("actor id"), max_length=64, blank=True)
    subject_kind = models.CharField(_("subject kind"), max_length=64, blank=True)
    subject_id = models.CharField(_("subject id"), max_length=64, blank=True)
    reason = models.CharField(_("reason"), max_length=255)
    created_by = models.CharField(_("placed by"), max_length=150)
    created_at = models.DateTimeField(_("placed at"), auto_now_add=True)
    released_at = models.DateTimeField(_("released at"), null=True, blank=True)

    class Meta:
        verbose_name = _("legal hold")
        verbose_name_plural = _("legal holds")
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(actor_id="") | (~models.Q(subject_kind="") & ~models.Q(subject_id="")),
                name="%(app_label)s_%(class)s_names_actor_or_subject",
            )
        ]

    def __str__(self) -> str:
        target = f"actor {self.actor_id}" if self.actor_id else f"{self.subject_kind} {self.subject_id}"
        return f"hold on {target}"


class Export(models.Model):
    """One export of the log: its options, progress, file and signed manifest."""

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        JSONL = "jsonl", "JSONL"
        XLSX = "xlsx", "XLSX"

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    id = models.UUIDField(primary_key=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by_id = models.CharField(_("requested by (id)"), max_length=64, blank=True)
    created_by = models.CharField(_("requested by"), max_length=150, blank=True)
    format = models.CharField(_("format"), max_length=8, choices=Format.choices)
    filters = models.JSONField(_("filters"), default=dict)
    pseudonymise = models.BooleanField(_("pseudonymised"), default=True)
    include_content = models.BooleanField(_("content included"), default=False)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    rows_total = models.BigIntegerField(_("rows expected"), null=True, blank=True)
    rows_done = models.BigIntegerField(_("rows written"), default=0)
    file_name = models.CharField(_("file"), max_length=255, blank=True)
    manifest = models.JSONField(_("manifest"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        verbose_name = _("export")
        verbose_name_plural = _("exports")

    def __str__(self) -> str:
        return f"export {self.id} ({self.format}, {self.status})"

    @property
    def progress_percent(self) -> int:
        if not self.rows_total:
            return 100 if self.status == self.Status.DONE else 0
        return min(100, int(100 * self.rows_done / self.rows_total))


class Rollup(models.Model):
    """Records of one quarter hour counted by what the dashboard's panels group on (``audit.services.rollups``).

    ``bucket`` is the start of the quarter hour (UTC); ``reason_code`` and ``stage`` are those of a
    ``generation.refused`` record's payload (blank for other events). For a finished job's records
    (``audit.dashboard.FINISHED_EVENTS``) ``latency_bucket`` is the job's latency class
    (``audit.services.rollups.latency_bucket``; -1: none recorded, and every other record) and ``jobs`` counts
    the jobs whose first finished record is counted here. Folded from the append-only log, never edited by hand.
    """

    bucket = models.DateTimeField(_("quarter hour"))
    event_type = models.CharField(_("event type"), max_length=64)
    reason_code = models.CharField(_("reason code"), max_length=64, blank=True)
    stage = models.CharField(_("stage"), max_length=64, blank=True)
    risk_codes = models.CharField(_("risk codes"), max_length=512, blank=True)
    latency_bucket = models.SmallIntegerField(_("latency class"), default=-1)
    records = models.BigIntegerField(_("records"), default=0)
    jobs = models.BigIntegerField(_("jobs"), default=0)

    class Meta:
        verbose_name = _("log rollup")
        verbose_name_plural = _("log rollups")
        constraints = [
            models.UniqueConstraint(
                fields=["bucket", "event_type", "reason_code", "stage", "risk_codes", "latency_bucket"],
                name="audit_rollup_key",
            )
        ]
        # A panel reads a few event types over a range of quarter hours.
        indexes = [models.Index(fields=["event_type", "bucket"], name="audit_rollup_event_bucket")]

    def __str__(self) -> str:
        return f"{self.bucket:%Y-%m-%d %H:%M} {self.event_type}: {self.records}"


class RollupState(models.Model):
    """The single row saying how far the rollups reach: every record with ``seq <= folded_to`` is counted in them.

    ``raw_before``: rollups before it are not read (the retention purge deleted records there); None: all are.
    """

    id = models.SmallIntegerField(primary_key=True, default=1)
    folded_to = models.BigIntegerField(_("folded up to"), default=0)
    raw_before = models.DateTimeField(_("read from the log before"), null=True, blank=True)

    class Meta:
        verbose_name = _("rollup state")
        verbose_name_plural = _("rollup states")

    def __str__(self) -> str:
        return f"rollups up to record {self.folded_to}"
