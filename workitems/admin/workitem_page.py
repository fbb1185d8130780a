"""The work item's own page in the admin: its routability report (stale or not) with Check and
Submit buttons, and its timeline, which also replaces Django's change history.

A ModelAdmin mixin for WorkItemAdmin, kept apart from the list and the actions. Check and Submit
call the same services as the list's actions (`workitems_check_routability`,
`workitems_submit_request`), on this one item.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.views.decorators.http import require_POST

from audits.services import actor_for
from workitems.admin.workitem_form import member_query
from workitems.models import Queue, Verdict, WorkItem, WorkType
from workitems.selectors.routability_report import routability_report_view
from workitems.selectors.timeline import workitem_timeline
from workitems.services.queue_members import member_choice
from workitems.services.routability import workitems_check_routability
from workitems.services.submission import SUBMITTABLE, workitems_submit_request
from workitems.services.wait_explain import workitem_wait_explain

PAGE_TIMELINE_LIMIT = 100  # entries per source on the item page; the history page reads more
HISTORY_TIMELINE_LIMIT = 1000
AGENTS_PER_PAGE = 20


def _why_waiting(item: WorkItem) -> dict | None:
    explanation = workitem_wait_explain(item=item)
    if explanation is None:
        return None
    from workitems.views.dashboard import humanise

    return {**explanation.__dict__, "waited_text": humanise(explanation.waited)}


class WorkItemPageMixin:
    """Item page extras for a ModelAdmin of WorkItem."""

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("agents/", wrap(self.agents_view), name="workitems_workitem_agents"),
            path(
                "<path:object_id>/check/",
                wrap(require_POST(self.check_view)),
                name="workitems_workitem_check",
            ),
            path(
                "<path:object_id>/submit/",
                wrap(require_POST(self.submit_view)),
                name="workitems_workitem_submit",
            ),
            *super().get_urls(),
        ]

    # --- page context ---------------------------------------------------------------------------

    def _links(self, request):
        """urls(kind, pk) for timeline entries, where this viewer may open them."""
        allowed = {
            "delivery": request.user.has_perm("workitems.view_delivery"),
            "event": request.user.has_perm("workitems.view_inboundevent"),
        }
        names = {"delivery": "workitems_delivery_change", "event": "workitems_inboundevent_change"}

        def url(kind: str, pk: int) -> str:
            if not allowed.get(kind):
                return ""
            try:
                return reverse(f"admin:{names[kind]}", args=[pk])
            except NoReverseMatch:
                return ""

        return url

    def _story(self, request, item: WorkItem, *, limit: int) -> dict:
        timeline = workitem_timeline(item=item, limit=limit)
        url = self._links(request)
        rows = [(entry, url(*entry.ref) if entry.ref else "") for entry in timeline.entries]
        return {"timeline": timeline, "timeline_rows": rows}

    def _worktype_url(self, request, worktype_id: int) -> str:
        if not self.admin_site.is_registered(WorkType):
            return ""
        if not self.admin_site._registry[WorkType].has_view_permission(request):
            return ""
        return reverse("admin:workitems_worktype_change", args=[worktype_id])

    def page_context(self, request, item: WorkItem) -> dict:
        editable = item.local_state in SUBMITTABLE
        return {
            "routability": routability_report_view(
                report=item.routability_report, stale=item.routability_stale
            ),
            "worktype_url": self._worktype_url(request, item.worktype_id),
            "can_check": editable and self.has_change_permission(request, item),
            "can_submit": editable and request.user.has_perm("workitems.submit_workitem"),
            **self._story(request, item, limit=PAGE_TIMELINE_LIMIT),
            "why_waiting": _why_waiting(item),
        }

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk:
            context.update(self.page_context(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def history_view(self, request, object_id, extra_context=None):
        """The item's timeline in full, in place of Django's (empty) change history."""
        item = self.get_object(request, unquote(object_id))
        if item is None:
            raise Http404("No such work item.")
        if not self.has_view_or_change_permission(request, item):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": f"Timeline: {item}",
            "opts": self.opts,
            "original": item,
            **self._story(request, item, limit=HISTORY_TIMELINE_LIMIT),
        }
        return TemplateResponse(request, "admin/workitems/workitem/timeline.html", context)

    # --- Check and Submit -------------------------------------------------------------------------

    def _item_or_404(self, request, object_id) -> WorkItem:
        item = self.get_object(request, unquote(object_id))
        if item is None:
            raise Http404("No such work item.")
        return item

    def _back(self, item: WorkItem):
        return HttpResponseRedirect(reverse("admin:workitems_workitem_change", args=[item.pk]))

    def check_view(self, request, object_id):
        item = self._item_or_404(request, object_id)
        if not self.has_change_permission(request, item):
            raise PermissionDenied
        reports = workitems_check_routability(
            items=WorkItem.objects.filter(pk=item.pk), actor=actor_for(request.user)
        )
        report = reports.get(item.pk)
        if report is not None:
            level = messages.ERROR if report.verdict == Verdict.NOT_ROUTABLE else messages.SUCCESS
            self.message_user(
                request, f"Checked {item.external_ref}: {report.verdict.label}.", level
            )
        return self._back(item)

    def submit_view(self, request, object_id):
        item = self._item_or_404(request, object_id)
        if not request.user.has_perm("workitems.submit_workitem"):
            raise PermissionDenied
        # The service checks again what has no verdict (never checked, or stale since an edit).
        stale = item.local_state in SUBMITTABLE and (
            item.routability_stale or not item.routability_verdict
        )
        result = workitems_submit_request(
            items=WorkItem.objects.filter(pk=item.pk),
            actor=actor_for(request.user),
            override_routability=request.user.has_perm("workitems.override_routability"),
        )
        if stale:
            item.refresh_from_db(fields=["routability_verdict"])
            verdict = Verdict(item.routability_verdict).label if item.routability_verdict else "?"
            self.message_user(request, f"Checked again before submission: {verdict}.")
        if result.queued:
            self.message_user(
                request,
                f"Queued {item.external_ref} for submission to Genesys.",
                messages.SUCCESS,
            )
        for refused, why in result.refused:
            self.message_user(
                request, f"Not submitted: {refused.external_ref} is {why}.", messages.ERROR
            )
        return self._back(item)

    # --- the preferred-agent picker's search ------------------------------------------------------

    def agents_view(self, request):
        """Members of a queue by name, for the preferred-agent picker (select2's JSON)."""
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            raise PermissionDenied
        queue = None
        if (raw := request.GET.get("queue", "")).isdigit():
            queue = Queue.objects.filter(pk=int(raw)).first()
        if queue is None:
            return JsonResponse({"results": [], "pagination": {"more": False}})
        page = int(p) if (p := request.GET.get("page", "1")).isdigit() and int(p) > 0 else 1
        found = member_query(
            queue=queue,
            term=request.GET.get("term", "").strip()[:100],
            offset=(page - 1) * AGENTS_PER_PAGE,
            limit=AGENTS_PER_PAGE + 1,
        )
        return JsonResponse(
            {
                "results": [
                    {"id": m.user_id, "text": member_choice(m, queue.name).label}
                    for m in found[:AGENTS_PER_PAGE]
                ],
                "pagination": {"more": len(found) > AGENTS_PER_PAGE},
            }
        )
