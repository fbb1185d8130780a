from functools import reduce
from operator import or_

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils import timezone

from workitems.models import LocalState, Verdict, WorkItem
from workitems.services.routability import FAIL, PASS, WARN, workitems_check_routability
from workitems.text import count_noun

USAGE = "Name the items to check (check_routability REF …) or pass --all-drafts."


class Command(BaseCommand):
    help = (
        "Check whether work items are routable in Genesys, store each report on the item and "
        "print it: one line per check (FAIL, then WARN, then PASS: name: message), and each "
        "worktype setting that shapes routing once."
    )

    def add_arguments(self, parser):
        parser.add_argument("refs", nargs="*", metavar="REF", help="External refs to check.")
        parser.add_argument("--all-drafts", action="store_true", help="Every draft work item.")

    def handle(self, *args, refs, all_drafts, **options):
        if not refs and not all_drafts:
            raise CommandError(USAGE)
        if refs:
            found = set(
                WorkItem.objects.filter(external_ref__in=refs).values_list(
                    "external_ref", flat=True
                )
            )
            missing = [ref for ref in dict.fromkeys(refs) if ref not in found]
            if missing:
                raise CommandError(f"No work item with external ref: {', '.join(missing)}")
        conditions = []
        if refs:
            conditions.append(Q(external_ref__in=refs))
        if all_drafts:
            conditions.append(Q(local_state=LocalState.DRAFT))
        items = WorkItem.objects.filter(reduce(or_, conditions))
        reports = workitems_check_routability(items=items, actor="system")
        if not reports:
            self.stdout.write("Nothing to check: no draft work items.")
            return
        # Not `items`: the drafts it selected are CHECKED now.
        refs_by_pk = dict(
            WorkItem.objects.filter(pk__in=list(reports)).values_list("pk", "external_ref")
        )
        style = {
            Verdict.ROUTABLE: self.style.SUCCESS,
            Verdict.WARNINGS: self.style.WARNING,
            Verdict.NOT_ROUTABLE: self.style.ERROR,
        }
        totals: dict[str, int] = {}
        notes: dict[str, None] = {}
        order = {FAIL: 0, WARN: 1, PASS: 2}
        for pk in sorted(reports, key=lambda pk: refs_by_pk[pk]):
            report = reports[pk]
            totals[report.verdict.label] = totals.get(report.verdict.label, 0) + 1
            checked = timezone.localtime(report.checked_at).strftime("%Y-%m-%d %H:%M %Z")
            self.stdout.write(
                style[report.verdict](
                    f"{refs_by_pk[pk]}: {report.verdict.label} (checked {checked})"
                )
            )
            notes.update(dict.fromkeys(report.worktype_notes))
            for check in sorted(report.checks, key=lambda c: order.get(c.result, 1)):
                tag = {PASS: "PASS", FAIL: "FAIL"}.get(check.result, "WARN")
                self.stdout.write(f"  {tag} {check.name}: {check.message}")
        summary = ", ".join(f"{n} {label.lower()}" for label, n in sorted(totals.items()))
        for note in notes:
            self.stdout.write(f"Note: {note}")
        self.stdout.write(f"Checked {count_noun(len(reports), 'work item')}: {summary}.")
