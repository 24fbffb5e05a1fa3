"""The admin of drawn samples. The review page is shared by the source safety checks and the whole-corpus
assessments: the reviewer reads each item with its machine flags, posts verdicts a page at a time and finishes the
review. The add page is shared by the samples of a service's whole corpus (the technical check, the manual
assessment): they are drawn by naming the service and, when wanted, the seed."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext

from filing import services
from filing.admin.common import refusal_show
from filing.admin_base import FilingModelAdmin
from filing.models import SampleItem
from filing.safety.models import Risk

# How much of each item's pre-screen the review table shows (the rest is stored with the item).
REVIEW_HITS_SHOWN = 5
REVIEW_SCORES_SHOWN = 3


def prescreen_shown(item: Any) -> dict[str, Any]:
    """The machine flags of a sampled item (a check's or an assessment's) as the reviewer reads them: each keyword
    hit with the stretch of the excerpt it matched, and the classifier's highest scores against their thresholds."""
    flags = item.prescreen or {}
    if not flags or "error" in flags:
        return {"screened": False, "reason": flags.get("error", "")}
    keyword = flags.get("keyword")
    classifier = flags.get("classifier")
    return {
        "screened": True,
        "keyword": None
        if keyword is None
        else {
            "decision": keyword["decision"],
            "hits": [
                {**hit, "text": item.excerpt[hit["start"] : hit["end"]]} for hit in keyword["hits"][:REVIEW_HITS_SHOWN]
            ],
            "more": max(0, len(keyword["hits"]) - REVIEW_HITS_SHOWN),
        },
        "classifier": None
        if classifier is None
        else {
            "decision": classifier["decision"],
            "scores": classifier["scores"][:REVIEW_SCORES_SHOWN],
        },
    }


def _verdicts_posted(request: HttpRequest) -> list[services.VerdictInput]:
    """The verdicts a review page posted for its items; with "the rest are fine", items left pending are OK."""
    rest_ok = "rest_ok" in request.POST
    return [
        services.VerdictInput(
            item_id=int(item_id),
            verdict=SampleItem.Verdict.OK
            if rest_ok and request.POST.get(f"verdict-{item_id}", "pending") == "pending"
            else request.POST.get(f"verdict-{item_id}", SampleItem.Verdict.PENDING),
            risk_code=request.POST.get(f"risk-{item_id}") or None,
        )
        for item_id in request.POST.getlist("item")
        if item_id.isdigit()
    ]


def _review_counts(items: Any) -> dict[str, int]:
    """What a review page counts of its sample: pending and illegal verdicts, and the pre-screening's flags."""
    flagged = ("flag", "block")
    return {
        "pending": items.filter(verdict=SampleItem.Verdict.PENDING).count(),
        "illegal": items.filter(verdict=SampleItem.Verdict.ILLEGAL).count(),
        "screened": items.filter(prescreen__has_key="layers").count(),
        "keyword_flagged": items.filter(prescreen__layers__keyword__in=flagged).count(),
        "classifier_screened": items.filter(prescreen__layers__has_key="classifier").count(),
        "classifier_flagged": items.filter(prescreen__layers__classifier__in=flagged).count(),
    }


def _page_asked(request: HttpRequest) -> int:
    """The page of the sample the request asks for: the first where it names none or no number."""
    try:
        return max(1, int(request.GET.get("page", "1")))
    except ValueError:
        return 1


class SampleReviewAdmin(FilingModelAdmin):
    """The admin of a drawn sample with its review page (``<pk>/review/``). A subclass names the sample's
    related records, its services and its page; the reading, paging, verdicts and finishing are the same for
    every sample, so that each kind of review behaves alike."""

    own_pages = {"review": "<int:pk>/review/"}
    review_page_size = 50
    # The records the page reads with the sample, and with each item: one query each, not one per row.
    review_related: tuple[str, ...] = ()
    review_items_related: tuple[str, ...] = ()
    review_template = ""

    def review_finish(self, sample: Any, actor: Any) -> None:
        """Finish the review of ``sample`` through its service."""
        raise NotImplementedError

    def review_finished_message(self, sample: Any) -> tuple[str, int]:
        """What the reviewer is told when the review is finished, and at what message level."""
        raise NotImplementedError

    def review_record(self, sample: Any, verdicts: list[services.VerdictInput], actor: Any) -> int:
        """Record the posted verdicts through the sample's service; how many changed."""
        raise NotImplementedError

    def review_title(self, sample: Any) -> str:
        """The review page's title."""
        raise NotImplementedError

    def review_context(self, sample: Any) -> dict[str, Any]:
        """What the page's template reads of the sample beyond the items, pages and counts."""
        raise NotImplementedError

    def review_post(self, request: HttpRequest, sample: Any, url: str, page: int) -> HttpResponse:
        """Save the posted verdicts, or finish the review; a refusal is shown as an error message."""
        try:
            if "finish" in request.POST:
                self.review_finish(sample, request.user)
                sample.refresh_from_db()
                text, level = self.review_finished_message(sample)
                self.message_user(request, text, level)
                return HttpResponseRedirect(url)
            changed = self.review_record(sample, _verdicts_posted(request), request.user)
            self.message_user(request, gettext("%(n)d verdicts saved.") % {"n": changed}, messages.SUCCESS)
        except services.FilingError as exc:
            refusal_show(self, request, exc)
        next_page = page + 1 if "save_next" in request.POST or "rest_ok" in request.POST else page
        return HttpResponseRedirect(f"{url}?page={next_page}")

    def review_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        samples = self.model.objects.all()
        if self.review_related:
            samples = samples.select_related(*self.review_related)
        sample: Model = get_object_or_404(samples, pk=pk)
        if not self.has_change_permission(request, sample):
            raise PermissionDenied
        page = _page_asked(request)
        opts = self.model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_review", args=[sample.pk])
        if request.method == "POST":
            return self.review_post(request, sample, url, page)
        size = self.review_page_size
        pages = max(1, (sample.sample_size + size - 1) // size)  # type: ignore[attr-defined]
        page = min(page, pages)
        every: QuerySet[Any] = sample.items.all()  # type: ignore[attr-defined]
        shown = every.select_related(*self.review_items_related) if self.review_items_related else every
        items = list(shown.order_by("position")[(page - 1) * size : page * size])
        return self.page_response(
            request,
            self.review_template,
            self.review_title(sample),
            original=sample,
            items=[(item, prescreen_shown(item)) for item in items],
            page=page,
            pages=pages,
            page_range=range(1, pages + 1) if pages <= 30 else None,
            counts=_review_counts(every),
            risks=Risk.objects.order_by("position"),
            verdicts=SampleItem.Verdict.choices,
            **self.review_context(sample),
        )


class CorpusSampleAdmin(FilingModelAdmin):
    """The admin of a sample of a service's whole corpus. It is added by naming the service and, optionally, the
    seed, through the service that draws it (``sample_start``); a refused start is an error message on the add
    page. Once drawn, the service is shown with the sample's read-only fields."""

    def sample_start(self, *, service: Any, actor: Any, seed: int | None) -> Model:
        """Draw the sample of ``service``'s corpus through its service."""
        raise NotImplementedError

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("service", "seed")
        return ("service", *self.readonly_fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("service", *self.readonly_fields) if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        created = self.sample_start(service=obj.service, actor=request.user, seed=form.cleaned_data.get("seed"))
        obj.pk = created.pk
        obj.refresh_from_db()

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        try:
            return super().add_view(request, form_url, extra_context)
        except services.FilingError as exc:
            refusal_show(self, request, exc)
            return HttpResponseRedirect(request.get_full_path())
