"""The supervisor dashboard: one admin page, a handful of aggregate queries, every number a link.

Thin: the figures come from `workitems.selectors.dashboard`; this module turns them into table
cells (text, link to the changelist filtered to exactly what the number counts, definition) and
charts. Needs `workitems.view_dashboard`; a number links only where its viewer may open the list.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone
from django.utils.formats import localize
from django.utils.html import format_html
from django.utils.safestring import SafeString

from audits.verification import last_verification
from workitems.models import QueueForecast, WorkItem
from workitems.selectors.dashboard import (
    AGE_BUCKETS,
    SWEEP_STALE_AFTER,
    WINDOW_LABELS,
    WINDOWS,
    Figures,
    Row,
    WorkItemDashboard,
    dashboard_cache_entries,
    health_figures,
    workitem_dashboard,
)
from workitems.services.breach_forecast import WAIT_EXPLAIN_AFTER
from workitems.services.sla import AT_RISK_PERCENT
from workitems.views.svg_charts import Bar, bar_chart_svg

# The daily schedule verifies the chain; a day and a bit without a run is worth a look.
VERIFICATION_STALE_AFTER = timedelta(hours=26)

WORKITEM_CHANGELIST = "admin:workitems_workitem_changelist"
VIEW_PERMISSION = "workitems.view_dashboard"

# Shown next to each figure (tooltip) and in the Definitions box.
DEFINITIONS = {
    "open": "Open: submitted to Genesys and not closed.",
    "age": "Age: now minus the item's Genesys creation time (dateCreated).",
    "buckets": "Aging buckets: open items by age — 0–15 min, 15–30 min, 30–60 min, 1–4 h, 4–24 h, "
    "> 24 h.",
    "oldest": "Oldest open age: the age of the longest-open item.",
    "at_risk": "At risk: open, unpaused, not yet breached, less than "
    f"{AT_RISK_PERCENT}% of its SLA threshold left before the deadline.",
    "breached": "Breached: not closed by its SLA deadline.",
    "breaching_1h": "Breaching in the next 60 min: open, unpaused, not yet breached, SLA deadline "
    "within the next hour — it breaches unless closed or paused first.",
    "forecast": "Forecast to breach (next 1 h / 4 h / 8 h): waiting, unassigned items whose "
    "expected start (their place in the queue — priority, then age — ÷ items leaving the queue per "
    "hour over the last 4 h, 0 when no member is on queue) plus their worktype's typical handling "
    "time falls after their deadline. Recomputed by each SLA sweep.",
    "breached_open": "Breached & open: open items not closed by their SLA deadline (marked by the "
    "sweep, or unpaused and past the deadline).",
    "deadline": "SLA deadline: the earlier of the item's due date and its creation time plus the "
    "policy threshold, moved later by time spent paused (Waiting, when the policy pauses).",
    "breach_rate": "Breach rate: of the items whose SLA was decided in the window (breached, or "
    "closed in time), the share that breached — open items that breached count here.",
    "service_level": "Service level: of the items closed in the window, the share closed by their "
    "deadline — items still open do not count here, so it can be fair while the breach rate is "
    "high.",
}


Url = Callable[..., str | None]


def links_for(request) -> Url:
    """`url(viewname, params)`: the admin URL with a query string, or None when that page is not
    registered or this request's user may not open it (so the number shows as plain text)."""
    may_open: dict[str, bool] = {}

    def allowed(viewname: str) -> bool:
        if viewname not in may_open:
            may_open[viewname] = any(
                viewname == f"admin:{m._meta.app_label}_{m._meta.model_name}_changelist"
                and model_admin.has_view_or_change_permission(request)
                for m, model_admin in admin.site._registry.items()
            )
        return may_open[viewname]

    reversed_: dict[str, str | None] = {}

    def url(viewname: str, params: dict | None = None) -> str | None:
        if not allowed(viewname):
            return None
        # Once per page, not per cell: a page has hundreds of links to the same list.
        if viewname not in reversed_:
            try:
                reversed_[viewname] = reverse(viewname)
            except NoReverseMatch:
                reversed_[viewname] = None
        found = reversed_[viewname]
        if found is None:
            return None
        return f"{found}?{urlencode(params)}" if params else found

    return url


def humanise(age: timedelta | None) -> str:
    if age is None:
        return "—"
    seconds = int(age.total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _percent(x: float) -> str:
    return f"{x * 100:.1f} %"


def _cell(url: Url, text, params: dict, title: str, css: str = "") -> dict:
    return {"text": text, "href": url(WORKITEM_CHANGELIST, params), "title": title, "css": css}


def _ratio_cell(
    url: Url,
    *,
    rate: float | None,
    num: int,
    den: int,
    num_params: dict,
    den_params: dict,
    title: str,
) -> dict:
    """A rate: links to its numerator's list; "—" linking to the denominator's list when 0/0."""
    cell = _cell(
        url,
        "—" if rate is None else _percent(rate),
        den_params if rate is None and den_params else num_params,
        f"{title} ({num} of {den})",
    )
    cell["parts"] = [
        {"text": num, "href": url(WORKITEM_CHANGELIST, num_params)},
        {"text": den, "href": url(WORKITEM_CHANGELIST, den_params) if den_params else None},
    ]
    return cell


def cell_html(cell: dict) -> SafeString:
    """One figure cell's <td>. Built here, as the admin builds its changelist cells
    (admin_list.items_for_result), not by the template engine: the queue and worktype tables hold
    hundreds of cells, and rendering each through the template took most of the page's time."""
    title = cell.get("title", "")
    if cell.get("href"):
        body = format_html(
            '<a href="{}" title="{}">{}</a>', cell["href"], title, localize(cell["text"])
        )
    else:
        body = format_html('<span title="{}">{}</span>', title, localize(cell["text"]))
    if cell.get("note"):
        body += format_html('<span class="cell-note">{}</span>', cell["note"])
    if cell.get("parts"):
        numerator, denominator = cell["parts"]
        body += format_html(
            '<span class="ratio">{}/{}</span>',
            _ratio_part(numerator, "Numerator: open its list"),
            _ratio_part(denominator, "Denominator: open its list"),
        )
    return format_html(
        '<td class="num {}" data-col="{}">{}</td>', cell.get("css", ""), cell["col"], body
    )


def _ratio_part(part: dict, title: str) -> SafeString:
    if part["href"]:
        return format_html(
            '<a href="{}" title="{}">{}</a>', part["href"], title, localize(part["text"])
        )
    return format_html("{}", localize(part["text"]))


def severity(count: int, size: int) -> str:
    """A cell's colour by its count relative to the row's open items: 3 of 300 is not 98 of 100."""
    if not count:
        return ""
    share = count / size if size else 1.0
    if share >= 0.25:
        return "sev3"
    if share >= 0.05:
        return "sev2"
    return "sev1"


def _forecast_cell(forecast: QueueForecast | None, size: int) -> dict:
    if forecast is None:
        return {"text": "—", "href": None, "title": "No forecast yet: the SLA sweep computes it."}
    counts = f"{forecast.breaches_1h} · {forecast.breaches_4h} · {forecast.breaches_8h}"
    clear = (
        "never at this pace"
        if forecast.clear_seconds is None
        else humanise(timedelta(seconds=forecast.clear_seconds))
    )
    return {
        "text": counts,
        "href": None,
        "title": f"{forecast.reason}. Backlog clears in {clear}. {DEFINITIONS['forecast']}",
        "css": severity(forecast.breaches_8h, max(size, forecast.waiting)),
        "note": forecast.reason,
    }


def _row_cells(
    url: Url,
    row_params: dict,
    f: Figures,
    *,
    now,
    forecast: QueueForecast | None = None,
    with_forecast: bool = False,
    oldest_first: dict | None = None,
) -> list[dict]:
    """The cells of one row; `row_params` selects the row's queue or worktype ({} for all)."""

    def p(**extra) -> dict:
        return {**row_params, **extra}

    cells = [
        _cell(
            url,
            f.breaching_1h,
            p(deadline_in="1h"),
            DEFINITIONS["breaching_1h"],
            severity(f.breaching_1h, f.open),
        )
    ]
    if with_forecast:
        cells.append(_forecast_cell(forecast, f.open))
    cells.append(
        _cell(
            url,
            f.breached_open,
            p(sla="breached_open"),
            DEFINITIONS["breached_open"],
            severity(f.breached_open, f.open),
        )
    )
    cells.append(_cell(url, f.open, p(open="yes"), DEFINITIONS["open"]))
    for key, label, _lo, _hi in AGE_BUCKETS:
        cells.append(
            _cell(url, f.buckets[key], p(age=key), f"Open items aged {label}. {DEFINITIONS['age']}")
        )
    oldest = f.oldest_age(now=now)
    cells.append(
        _cell(
            url,
            humanise(oldest),
            p(open="yes", **(oldest_first or {})),
            f"{DEFINITIONS['oldest']} {DEFINITIONS['age']} Opens the open items, oldest first.",
            "oldest",
        )
    )
    cells.append(
        _cell(url, f.at_risk, p(sla="at_risk"), DEFINITIONS["at_risk"], severity(f.at_risk, f.open))
    )
    for window in WINDOWS:
        cells.append(
            _ratio_cell(
                url,
                rate=f.breach_rate(window),
                num=getattr(f, f"breached_{window}"),
                den=f.decided(window),
                num_params=p(breached_within=window),
                # Breached or met: no one list filter selects both.
                den_params={},
                title=f"Breach rate, last {WINDOW_LABELS[window]}: breached ÷ (breached + closed "
                f"in time) in the last {WINDOW_LABELS[window]}",
            )
        )
    for window in WINDOWS:
        cells.append(
            _ratio_cell(
                url,
                rate=f.service_level(window),
                num=getattr(f, f"met_{window}"),
                den=getattr(f, f"closed_{window}"),
                num_params=p(closed_within=window, sla="met"),
                den_params=p(closed_within=window),
                title=f"Service level, last {WINDOW_LABELS[window]}: closed by their deadline ÷ "
                f"closed in the last {WINDOW_LABELS[window]}",
            )
        )
    return cells


def _queue_order(forecasts: dict) -> Callable[[Row], tuple]:
    """Most forecast breaches first, then most breached and open, then by name."""

    def key(row: Row) -> tuple:
        forecast = forecasts.get(row.pk)
        predicted = forecast.breaches_8h if forecast else 0
        return (-predicted, -row.figures.breached_open, row.pk is None, row.name.casefold())

    return key


def oldest_first_params(request) -> dict:
    """The list's parameters that sort it by Genesys creation time, oldest first."""
    model_admin = admin.site._registry.get(WorkItem)
    if model_admin is None:
        return {}
    return model_admin.ordering_params(request, "date_created")


def _table(
    url: Url,
    rows: list[Row],
    total: Row,
    *,
    kind: str,
    now,
    forecasts: dict | None = None,
    oldest_first: dict | None = None,
) -> list[dict]:
    out = []
    with_forecast = forecasts is not None
    forecasts = forecasts or {}
    if with_forecast:
        rows = sorted(rows, key=_queue_order(forecasts))
    for row in rows:
        if kind == "queue":
            params = {"queue__id__exact": row.pk} if row.pk else {"queue__isnull": "True"}
        else:
            params = {"worktype__id__exact": row.pk}
        out.append(
            {
                "name": row.name,
                "href": url(WORKITEM_CHANGELIST, params),
                "cells": _row_cells(
                    url,
                    params,
                    row.figures,
                    now=now,
                    forecast=forecasts.get(row.pk),
                    with_forecast=with_forecast,
                    oldest_first=oldest_first,
                ),
                "total": False,
            }
        )
    out.append(
        {
            "name": "All",
            "href": url(WORKITEM_CHANGELIST),
            "cells": _row_cells(
                url,
                {},
                total.figures,
                now=now,
                forecast=_forecast_total(forecasts) if with_forecast else None,
                with_forecast=with_forecast,
                oldest_first=oldest_first,
            ),
            "total": True,
        }
    )
    return out


def _forecast_total(forecasts: dict) -> QueueForecast | None:
    if not forecasts:
        return None
    rows = list(forecasts.values())
    return QueueForecast(
        queue_key=-1,
        computed_at=min(f.computed_at for f in rows),
        waiting=sum(f.waiting for f in rows),
        breaches_1h=sum(f.breaches_1h for f in rows),
        breaches_4h=sum(f.breaches_4h for f in rows),
        breaches_8h=sum(f.breaches_8h for f in rows),
        rate_per_hour=sum(f.rate_per_hour for f in rows),
        members_on_queue=0,
        members_joined=0,
        clear_seconds=None,
        reason=f"{sum(f.waiting for f in rows)} waiting in {len(rows)} queues",
    )


def _columns(*, with_forecast: bool) -> list[dict]:
    cols = [
        {
            "key": "breaching_1h",
            "label": "Breaching in next 60 min",
            "title": DEFINITIONS["breaching_1h"],
        }
    ]
    if with_forecast:
        cols.append(
            {
                "key": "forecast",
                "label": "Forecast to breach 1 h · 4 h · 8 h",
                "title": DEFINITIONS["forecast"],
            }
        )
    cols += [
        {"key": "breached_open", "label": "Breached & open", "title": DEFINITIONS["breached_open"]},
        {"key": "open", "label": "Open", "title": DEFINITIONS["open"]},
    ]
    cols += [
        {
            "key": f"age:{key}",
            "label": label,
            "title": DEFINITIONS["buckets"],
            "bucket": True,
            "first_bucket": i == 0,
        }
        for i, (key, label, *_) in enumerate(AGE_BUCKETS)
    ]
    cols += [
        {"key": "oldest", "label": "Oldest open", "title": DEFINITIONS["oldest"]},
        {"key": "at_risk", "label": "At risk", "title": DEFINITIONS["at_risk"]},
    ]
    cols += [
        {
            "key": f"breach_rate:{w}",
            "label": f"Breach rate {WINDOW_LABELS[w]}",
            "title": DEFINITIONS["breach_rate"],
        }
        for w in WINDOWS
    ]
    cols += [
        {
            "key": f"service_level:{w}",
            "label": f"Service level {WINDOW_LABELS[w]}",
            "title": DEFINITIONS["service_level"],
        }
        for w in WINDOWS
    ]
    return cols


def _charts(url: Url, data: WorkItemDashboard) -> dict:
    total = data.total.figures
    aging = bar_chart_svg(
        chart_id="aging-chart",
        title="Open items by age",
        description="Open work items in each aging bucket, all queues. " + DEFINITIONS["age"],
        bars=[
            Bar(
                label=label,
                value=total.buckets[key],
                title=f"{total.buckets[key]} open items aged {label}",
                href=url(WORKITEM_CHANGELIST, {"age": key}),
            )
            for key, label, _lo, _hi in AGE_BUCKETS
        ],
    )
    bars = []
    for day in data.days:
        # The same bounds as the selector's rollup hours: today ends now, inclusive.
        until = (
            {"sla_breached_at__lte": data.now.isoformat()}
            if day.end > data.now
            else {"sla_breached_at__lt": day.end.isoformat()}
        )
        label = formats.date_format(day.day, "j M")
        if day.rate is None:
            title = f"{label}: no SLA was decided"
        else:
            title = (
                f"{label}: {day.breached} of {day.due} items decided breached "
                f"({_percent(day.rate)})"
            )
        bars.append(
            Bar(
                label=formats.date_format(day.day, "j/n"),
                value=day.rate or 0,
                display="—" if day.rate is None else f"{day.rate * 100:.0f}%",
                title=title,
                # The day's breached items: the numerator of the bar's rate.
                href=url(
                    WORKITEM_CHANGELIST,
                    {"sla_breached_at__gte": day.start.isoformat(), **until},
                )
                if day.due
                else None,
            )
        )
    rates = bar_chart_svg(
        chart_id="breach-rate-chart",
        title="Breach rate per day, last 14 days",
        description="For each day: breached ÷ (breached + closed in time) that day (today so "
        "far). " + DEFINITIONS["breach_rate"],
        bars=bars,
        max_value=1.0,
    )
    return {"aging": aging, "breach_rate": rates}


def _verification(url: Url, now) -> dict:
    """The audit chain's last verification (verify_audit, or its daily schedule)."""
    run = last_verification()
    if run is None:
        return {"run": None, "stale": True}
    return {
        "run": run,
        "age": humanise(now - run.finished_at),
        "stale": now - run.finished_at > VERIFICATION_STALE_AFTER,
        "url": url("admin:audits_auditverification_changelist"),
    }


def _health(url: Url, now, sweep: dict) -> dict:
    h = health_figures(now=now, sweep=sweep)
    return {
        "figures": h,
        "events_failed_url": url(
            "admin:workitems_inboundevent_changelist", {"state__exact": "failed"}
        ),
        "events_waiting_url": url(
            "admin:workitems_inboundevent_changelist",
            {"state__exact": "accepted", "received_at__lt": h.events_waiting_before.isoformat()},
        ),
        "deliveries_failing_url": url(
            "admin:workitems_delivery_changelist", {"state__exact": "failing"}
        ),
        "deliveries_dead_url": url("admin:workitems_delivery_changelist", {"state__exact": "dead"}),
        "task_failures_url": url(
            "admin:django_q_failure_changelist", {"stopped__gte": h.task_failures_since.isoformat()}
        ),
        "reconciled_url": url(
            "admin:audits_auditevent_changelist",
            {
                "action": "workitem.reconcile.healed",
                "occurred_at__gte": h.task_failures_since.isoformat(),
            },
        ),
        "sweep_age": humanise(h.sweep_age),
        "verification": _verification(url, now),
        "sweep_stale_minutes": int(SWEEP_STALE_AFTER.total_seconds() // 60),
    }


def _waiting_long(request, sweep: dict, now) -> list[dict]:
    """The sweep's list of items waiting longest for an agent, each linking to its "why"."""
    may_open = request.user.has_perm("workitems.view_workitem") or request.user.has_perm(
        "workitems.change_workitem"
    )
    rows = []
    for entry in sweep.get("waiting_long") or []:
        since = datetime.fromisoformat(entry["since"])
        href = (
            reverse("admin:workitems_workitem_change", args=[entry["id"]]) + "#why-waiting"
            if may_open
            else None
        )
        rows.append({**entry, "waited": humanise(now - since), "href": href})
    return rows


def dashboard_view(request):
    if not request.user.has_perm(VIEW_PERMISSION):
        raise PermissionDenied
    url = links_for(request)
    now = timezone.now()
    sweep, settled = dashboard_cache_entries()
    data = workitem_dashboard(now=now, sweep=sweep, settled=settled)
    queue_columns, worktype_columns = _columns(with_forecast=True), _columns(with_forecast=False)
    oldest_first = oldest_first_params(request)
    context = {
        **admin.site.each_context(request),
        "title": "Supervisor dashboard",
        # The tables need the width more than the page needs the admin's model list.
        "is_nav_sidebar_enabled": False,
        "now": now,
        "queue_columns": queue_columns,
        "worktype_columns": worktype_columns,
        "queue_rows": _table(
            url,
            data.by_queue,
            data.total,
            kind="queue",
            now=now,
            forecasts=data.forecasts,
            oldest_first=oldest_first,
        ),
        "worktype_rows": _table(
            url, data.by_worktype, data.total, kind="worktype", now=now, oldest_first=oldest_first
        ),
        "charts": _charts(url, data),
        "health": _health(url, now, sweep),
        "waiting_long": _waiting_long(request, sweep, now),
        "waiting_after_minutes": int(WAIT_EXPLAIN_AFTER.total_seconds() // 60),
        "definitions": DEFINITIONS,
        "workitem_changelist": url(WORKITEM_CHANGELIST),
    }
    for rows, columns in (
        (context["queue_rows"], queue_columns),
        (context["worktype_rows"], worktype_columns),
    ):
        for row in rows:
            for cell, column in zip(row["cells"], columns, strict=True):
                cell["col"] = column["key"]  # data-col: what a test or a script finds a cell by
                cell["html"] = cell_html(cell)
    return TemplateResponse(request, "admin/workitems/dashboard.html", context)


# Staff only (the admin's own login and is_staff check), never cached; then view_dashboard.
dashboard = admin.site.admin_view(dashboard_view)
