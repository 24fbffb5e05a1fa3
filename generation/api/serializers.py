"""Shapes of the end-user API. Inputs and outputs are separate serializers; writes go through services."""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from filing.models import Complaint
from generation.enduser import REPORT_CATEGORIES
from generation.models import GENERATOR_CHOICES, Job, Output
from generation.queueing import QueuePlace, queue_place


class LimitsSerializer(serializers.Serializer):
    max_images = serializers.IntegerField()
    max_interpolation_steps = serializers.IntegerField()
    max_text_chars = serializers.IntegerField()
    max_prompt_chars = serializers.IntegerField()
    min_temperature = serializers.FloatField()
    max_temperature = serializers.FloatField()
    max_top_k = serializers.IntegerField()


class QuotaSerializer(serializers.Serializer):
    limit = serializers.IntegerField(help_text=_("Jobs per day; 0 means no limit."))
    used = serializers.IntegerField()
    remaining = serializers.IntegerField(allow_null=True)
    resets_at = serializers.DateTimeField()


class TuneSerializer(serializers.Serializer):
    name = serializers.CharField(help_text=_("The tune (词牌), the value of the text job's ``tune``."))
    form = serializers.ListField(child=serializers.IntegerField(), help_text=_("Characters of each line."))
    pattern = serializers.CharField(help_text=_("The form as it reads, with the usual punctuation."))
    characters = serializers.IntegerField(help_text=_("Characters of a whole piece, punctuation included."))


class NetSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=GENERATOR_CHOICES)
    name = serializers.CharField()
    available = serializers.BooleanField(help_text=_("Whether jobs of this kind are accepted now."))
    unavailable_reason = serializers.CharField(help_text=_("Why not, in plain words; empty when available."))
    parameters = serializers.DictField(child=serializers.CharField(), help_text=_("Parameter name: what it means."))
    tunes = TuneSerializer(many=True, help_text=_("Text model: the tunes it writes to; empty for the others."))


class NetsSerializer(serializers.Serializer):
    nets = NetSerializer(many=True)
    limits = LimitsSerializer()
    quota = QuotaSerializer()


# Stand-ins for the key of a link, matching the URL patterns' key formats, replaced by the real key.
_LINK_KEYS = {"public_id": "f" * 32, "produce_id": "linkkey0stand0in0"}


def _link(serializer: serializers.Serializer, name: str, key: str, value: object) -> str:  # type: ignore[type-arg]
    """The absolute URL of ``name`` for ``key=value``. The URL is reversed (and made absolute) once per
    response and the key substituted for each item: a list of 20 jobs with their outputs would otherwise
    reverse 60 URLs."""
    context = serializer.context
    templates: dict[str, str] = context.setdefault("_link_templates", {})
    if name not in templates:
        path = reverse(name, kwargs={key: _LINK_KEYS[key]})
        request = context.get("request")
        templates[name] = request.build_absolute_uri(path) if request else path
    return templates[name].replace(_LINK_KEYS[key], str(value))


class FieldsBuiltOnce:
    """A read-only model serializer whose fields are worked out from the model once per class and language, and
    copied for each serializer, as DRF copies declared fields. ``ModelSerializer`` otherwise introspects the model
    on every response, which costs more than writing the response itself. The language is part of the key because
    DRF passes a model field's verbose name as the label only where it differs from the field's name. Fit only for
    serializers whose fields do not depend on the instance or the context."""

    _built: ClassVar[dict[tuple[type, str | None], dict[str, Any]]] = {}

    def get_fields(self) -> dict[str, Any]:
        key = (type(self), translation.get_language())
        built = FieldsBuiltOnce._built.get(key)
        if built is None:
            built = FieldsBuiltOnce._built[key] = super().get_fields()  # type: ignore[misc]
        return copy.deepcopy(built)


class OutputSerializer(FieldsBuiltOnce, serializers.ModelSerializer[Output]):
    job = serializers.UUIDField(source="job.public_id", read_only=True)
    url = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()
    size_bytes = serializers.SerializerMethodField()

    class Meta:
        model = Output
        fields: tuple[str, ...] = (
            "produce_id",
            "job",
            "index",
            "media",
            "text",
            "sha256",
            "size_bytes",
            "created_at",
            "removed_at",
            "url",
            "download_url",
        )
        read_only_fields: tuple[str, ...] = fields

    def get_url(self, obj: Output) -> str:
        return _link(self, "generation-api:output-detail", "produce_id", obj.produce_id)

    def get_download_url(self, obj: Output) -> str:
        return _link(self, "generation-api:output-download", "produce_id", obj.produce_id)

    @extend_schema_field(OpenApiTypes.INT)
    def get_size_bytes(self, obj: Output) -> int | None:
        try:
            return int(obj.file.size)
        except (OSError, ValueError):
            return None


class JobOutputSerializer(OutputSerializer):
    """An output inside a job: no file size, which would cost a storage request per output."""

    class Meta(OutputSerializer.Meta):
        fields = tuple(name for name in OutputSerializer.Meta.fields if name != "size_bytes")
        read_only_fields = fields


class JobSerializer(FieldsBuiltOnce, serializers.ModelSerializer[Job]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    outputs = JobOutputSerializer(many=True, read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields: tuple[str, ...] = (
            "id",
            "kind",
            "status",
            "status_display",
            "params",
            "seed",
            "reason",
            "created_at",
            "started_at",
            "finished_at",
            "outputs",
            "url",
        )
        read_only_fields: tuple[str, ...] = fields

    def get_url(self, obj: Job) -> str:
        return _link(self, "generation-api:job-detail", "public_id", obj.public_id)


class JobDetailSerializer(JobSerializer):
    """One job read on its own, with a queued job's place in the queue (two counts, so not in lists)."""

    queue_position = serializers.SerializerMethodField(
        help_text=_("While the job is queued: its place in the queue, 1 being next; otherwise null.")
    )
    estimated_start_seconds = serializers.SerializerMethodField(
        help_text=_(
            "While the job is queued: about how many seconds until it starts, from the jobs the queue finished "
            "lately; null when it is not queued or the queue finished none lately."
        )
    )

    class Meta(JobSerializer.Meta):
        fields = (*JobSerializer.Meta.fields, "queue_position", "estimated_start_seconds")
        read_only_fields = fields

    def _place(self, obj: Job) -> QueuePlace | None:
        places = self.context.setdefault("queue_places", {})  # both fields from one reading
        if obj.pk not in places:
            places[obj.pk] = queue_place(obj)
        return places[obj.pk]

    @extend_schema_field(serializers.IntegerField(allow_null=True, min_value=1))
    def get_queue_position(self, obj: Job) -> int | None:
        place = self._place(obj)
        return place.position if place else None

    @extend_schema_field(serializers.IntegerField(allow_null=True, min_value=1))
    def get_estimated_start_seconds(self, obj: Job) -> int | None:
        place = self._place(obj)
        return place.estimated_start_seconds if place else None


class JobCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=GENERATOR_CHOICES)
    params = serializers.DictField(
        help_text=_(
            "gan: digit, count, seed. vae: count, seed; or seed, interpolate_to_seed, steps. "
            "lm: tune, opening, temperature, top_k, seed (tune is one of the tunes listed by nets/; the optional "
            "opening must fit the tune's lines). The seed is optional everywhere."
        )
    )


class JobFilterSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=GENERATOR_CHOICES, required=False)
    status = serializers.ChoiceField(choices=Job.Status.choices, required=False)


class ReportCreateSerializer(serializers.Serializer):
    produce_id = serializers.CharField(max_length=64)
    reason = serializers.ChoiceField(choices=REPORT_CATEGORIES)
    details = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ReportSerializer(serializers.ModelSerializer[Complaint]):
    reason = serializers.CharField(source="category", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)

    class Meta:
        model = Complaint
        fields = (
            "id",
            "produce_id",
            "reason",
            "details",
            "channel",
            "status",
            "status_display",
            "received_at",
            "due_at",
            "resolution",
            "resolved_at",
        )
        read_only_fields = fields


class TokenCreateSerializer(serializers.Serializer):
    # As long as a username can be (the sign-in lockout stores the name tried).
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    username = serializers.CharField()
