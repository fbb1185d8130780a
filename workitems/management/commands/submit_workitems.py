from django.core.management.base import BaseCommand, CommandError

from workitems.genesys import GenesysError
from workitems.models import LocalState, WorkItem
from workitems.services.submission import workitems_submit, workitems_submit_request


class Command(BaseCommand):
    help = (
        "Submit work items to Genesys, each exactly once. Queues the submission for the "
        "django-q2 cluster, or runs it here with --wait."
    )

    def add_arguments(self, parser):
        parser.add_argument("refs", nargs="*", metavar="REF", help="External refs to submit.")
        parser.add_argument("--all-checked", action="store_true", help="Every checked item.")
        parser.add_argument("--wait", action="store_true", help="Submit now, printing progress.")
        parser.add_argument(
            "--mode",
            choices=["auto", "single", "bulk"],
            default="auto",
            help="With --wait: one request per item, bulk-add jobs, or auto (bulk from 10 items).",
        )
        parser.add_argument(
            "--override-routability",
            action="store_true",
            help="Also submit items whose routability verdict is 'not routable'.",
        )

    def handle(self, *args, refs, all_checked, wait, mode, override_routability, **options):
        if not refs and not all_checked:
            raise CommandError("Name the items to submit (REF …) or pass --all-checked.")
        items = WorkItem.objects.none()
        if refs:
            items = WorkItem.objects.filter(external_ref__in=refs)
            missing = sorted(set(refs) - set(items.values_list("external_ref", flat=True)))
            if missing:
                raise CommandError(f"No work item with external ref: {', '.join(missing)}")
        if all_checked:
            items = items | WorkItem.objects.filter(local_state=LocalState.CHECKED)
        request = workitems_submit_request(
            items=items, actor="system", override_routability=override_routability, enqueue=not wait
        )
        for item, reason in request.refused:
            self.stdout.write(self.style.WARNING(f"{item.external_ref}: refused — {reason}"))
        if not request.queued:
            self.stdout.write("Nothing to submit.")
            return
        if not wait:
            self.stdout.write(f"Queued {len(request.queued)} items for submission.")
            return
        try:
            summary = workitems_submit(
                item_ids=request.queued,
                actor="system",
                progress=self.stdout.write,
                mode=mode,
                queued_claim=request.claim,
            )
        except GenesysError as exc:
            raise CommandError(f"Submission stopped: {exc}") from None
        if summary.failed:
            raise CommandError(f"{len(summary.failed)} items failed; see their last error.")
