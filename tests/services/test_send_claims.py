"""One sender per work item, ever (services/send_claims.py and the submission entry points)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from tests.services.test_submission import FakeGenesys, claimed_items
from workitems.models import LocalState, WorkItem
from workitems.services import send_claims
from workitems.services.send_claims import (
    ClaimLost,
    send_claim_text,
    send_claims_hold,
    send_claims_release,
    send_claims_take,
)
from workitems.services.submission import (
    submissions_resume,
    workitems_submit,
    workitems_submit_request,
)

pytestmark = pytest.mark.django_db


def ids(items) -> list[int]:
    return [i.pk for i in items]


def test_of_two_claimers_only_the_first_gets_an_item_until_it_releases_it():
    items = claimed_items(3)
    assert send_claims_take(item_ids=ids(items), owner="run A") == ids(items)
    assert send_claims_take(item_ids=ids(items), owner="run B") == []
    assert send_claims_release(owner="run A") == 3
    assert send_claims_take(item_ids=ids(items), owner="run B") == ids(items)


def test_an_expired_claim_can_be_taken_over_and_a_live_one_cannot():
    a, b = claimed_items(2)
    send_claims_take(item_ids=[a.pk, b.pk], owner="run A")
    WorkItem.objects.filter(pk=a.pk).update(send_claim_expires_at=timezone.now())
    assert send_claims_take(item_ids=[a.pk, b.pk], owner="run B") == [a.pk]
    a.refresh_from_db()
    assert a.send_claimed_by == "run B" and a.send_claimed_at is not None


def test_parked_and_not_submitting_items_are_never_claimed():
    parked, done, ready = claimed_items(3)
    WorkItem.objects.filter(pk=parked.pk).update(
        next_attempt_at=timezone.now() + timedelta(hours=1)
    )
    WorkItem.objects.filter(pk=done.pk).update(local_state=LocalState.SUBMITTED)
    assert send_claims_take(item_ids=ids([parked, done, ready]), owner="run") == [ready.pk]


def test_a_claim_offered_to_a_queued_task_is_taken_over_by_that_task_only():
    items = claimed_items(2)
    send_claims_take(item_ids=ids(items), owner="queued [x]")
    assert send_claims_take(item_ids=ids(items), owner="someone else") == []
    assert send_claims_take(item_ids=ids(items), owner="the task", offered="queued [x]") == ids(
        items
    )
    # Taken over: the offer is spent, a second run of the same task gets nothing.
    assert send_claims_take(item_ids=ids(items), owner="retry", offered="queued [x]") == []


def test_holding_a_lost_claim_raises_and_changes_nothing():
    items = claimed_items(2)
    send_claims_take(item_ids=ids(items), owner="run A")
    loaded = list(WorkItem.objects.filter(pk__in=ids(items)).order_by("pk"))
    # Run A stalled past its lease; run B took the second item.
    WorkItem.objects.filter(pk=items[1].pk).update(send_claimed_by="run B")
    with pytest.raises(ClaimLost, match="1 of 2 items are no longer claimed"):
        send_claims_hold(items=loaded, create_attempted_at=timezone.now())
    assert not WorkItem.objects.filter(create_attempted_at__isnull=False).exists()


def test_a_supervisors_request_holds_its_items_for_the_task_it_enqueues(
    django_capture_on_commit_callbacks, monkeypatch
):
    [item] = claimed_items(1)
    WorkItem.objects.filter(pk=item.pk).update(local_state=LocalState.CHECKED)
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **kw: None)
    with django_capture_on_commit_callbacks(execute=True):
        request = workitems_submit_request(
            items=WorkItem.objects.filter(pk=item.pk), actor="alice", override_routability=False
        )
    item.refresh_from_db()
    assert item.send_claimed_by == request.claim
    assert item.send_claim_expires_at > timezone.now() + timedelta(minutes=9)
    # The resume leaves it to the task...
    genesys = FakeGenesys()
    assert submissions_resume(client=genesys) is None
    # ...which sends it, and lets go of the claim.
    summary = workitems_submit(
        item_ids=[item.pk], actor="alice", client=genesys, queued_claim=request.claim
    )
    assert summary.submitted == [item.pk]
    item.refresh_from_db()
    assert (item.send_claimed_by, item.send_claim_expires_at) == ("", None)


def test_the_resume_never_takes_an_item_a_run_is_sending_however_old_its_last_update():
    """The resume used to take every SUBMITTING item last updated over 5 minutes ago — and
    claiming did not touch updated_at — so it sent items a run was sending at that moment."""
    items = claimed_items(3)
    WorkItem.objects.update(updated_at=timezone.now() - timedelta(hours=1))
    genesys = FakeGenesys()
    seen: list[object] = []
    real_create = genesys.create_workitem

    def create_while_the_resume_fires(*, body):
        if not seen:
            seen.append(submissions_resume(client=genesys))  # mid-run
        return real_create(body=body)

    genesys.create_workitem = create_while_the_resume_fires
    summary = workitems_submit(item_ids=ids(items), actor="alice", client=genesys, mode="single")
    assert seen == [None]  # the resume found nothing free to take
    assert len(summary.submitted) == 3
    assert sorted(genesys.tags()) == sorted(i.external_ref for i in items)  # each once


def test_the_resume_takes_items_whose_senders_claim_expired_and_looks_them_up_first():
    items = claimed_items(2)
    genesys = FakeGenesys()
    # A worker claimed them, attempted the first create (it reached Genesys), then died.
    send_claims_take(item_ids=ids(items), owner="dead worker")
    genesys.create_workitem(
        body={"name": items[0].name, "typeId": items[0].worktype.genesys_id,
              "externalTag": items[0].external_ref}
    )  # fmt: skip
    WorkItem.objects.filter(pk=items[0].pk).update(
        create_attempted_at=timezone.now() - send_claims.RESUME_SETTLE
    )
    assert submissions_resume(client=genesys) is None  # the claim is live: hands off
    WorkItem.objects.update(send_claim_expires_at=timezone.now() - timedelta(seconds=1))

    summary = submissions_resume(client=genesys)

    assert summary.adopted == [items[0].pk] and summary.submitted == [items[1].pk]
    assert sorted(genesys.tags()) == sorted(i.external_ref for i in items)


def test_the_resume_gives_genesys_search_time_before_looking_up_an_unanswered_create():
    [item] = claimed_items(1)
    just_now = timezone.now() - timedelta(seconds=30)
    WorkItem.objects.filter(pk=item.pk).update(create_attempted_at=just_now)
    genesys = FakeGenesys()
    assert submissions_resume(client=genesys) is None and genesys.calls == []
    WorkItem.objects.filter(pk=item.pk).update(
        create_attempted_at=timezone.now() - send_claims.RESUME_SETTLE
    )
    summary = submissions_resume(client=genesys)
    assert summary.submitted == [item.pk] and genesys.calls[0] == "query"  # looked up first


def test_a_run_that_lost_its_claims_stops_without_sending_them():
    items = claimed_items(3)
    genesys = FakeGenesys()
    real_create = genesys.create_workitem

    def create_then_lose_the_rest(*, body):
        created = real_create(body=body)
        # This run stalled past its lease; the resume took the items it had not sent yet.
        WorkItem.objects.filter(pk__in=ids(items[1:])).update(send_claimed_by="the resume")
        return created

    genesys.create_workitem = create_then_lose_the_rest
    summary = workitems_submit(item_ids=ids(items), actor="alice", client=genesys, mode="single")
    assert summary.submitted == [items[0].pk]
    assert "no longer claimed by this run" in summary.claim_lost
    assert genesys.tags() == [items[0].external_ref]  # the others were left to their new sender
    assert sorted(summary.pending) == ids(items[1:])


def test_a_run_for_items_another_sender_holds_sends_nothing_and_says_so():
    items = claimed_items(2)
    send_claims_take(item_ids=ids(items), owner="run A")
    genesys = FakeGenesys()
    summary = workitems_submit(item_ids=ids(items), actor="bob", client=genesys)
    assert summary.elsewhere == ids(items) and genesys.calls == []
    assert "2 left to another sender" in summary.line()
    # Run A's claims are untouched by bob's run.
    assert set(WorkItem.objects.values_list("send_claimed_by", flat=True)) == {"run A"}


def test_a_long_run_renews_its_claims_as_it_goes(monkeypatch):
    items = claimed_items(2)
    clock = iter(range(0, 100_000, 200))  # each reading 200 s after the last
    monkeypatch.setattr(send_claims, "_monotonic", lambda: float(next(clock)))
    renewed: list[str] = []
    real_renew = send_claims.send_claims_renew
    monkeypatch.setattr(
        send_claims,
        "send_claims_renew",
        lambda **kw: renewed.append(kw["owner"]) or real_renew(**kw),
    )
    workitems_submit(item_ids=ids(items), actor="alice", client=FakeGenesys(), mode="single")
    assert renewed and set(renewed) == {renewed[0]}  # the run's own owner
    assert renewed[0].startswith("alice's submission on ")


def test_the_item_page_says_who_is_sending_it_and_since_when():
    [item] = claimed_items(1)
    send_claims_take(item_ids=[item.pk], owner="alice's submission on host pid 7 [ab12cd34]")
    item.refresh_from_db()
    text = send_claim_text(item)
    assert text.startswith("being sent by alice's submission on host pid 7 [ab12cd34] since ")
    WorkItem.objects.filter(pk=item.pk).update(send_claim_expires_at=timezone.now())
    item.refresh_from_db()
    assert "expired" in send_claim_text(item) and "next resume" in send_claim_text(item)


def test_the_item_admin_page_shows_the_claim(admin_client):
    [item] = claimed_items(1)
    send_claims_take(item_ids=[item.pk], owner="alice's submission on host pid 7 [ab12cd34]")
    page = admin_client.get(f"/admin/workitems/workitem/{item.pk}/change/")
    assert page.status_code == 200
    assert "being sent by alice&#x27;s submission on host pid 7 [ab12cd34] since" in (
        page.content.decode()
    )


@override_settings(SUBMIT_CLAIM_SECONDS=60)
def test_a_lease_shorter_than_one_create_request_is_reported():
    assert "SUBMIT_CLAIM_SECONDS (60) is not above" in send_claims.lease_too_short()


def test_the_default_lease_outlasts_one_create_request():
    assert send_claims.lease_too_short() == ""


@override_settings(SUBMIT_CLAIM_SECONDS=60)
def test_manage_py_check_warns_about_a_lease_too_short():
    from django.core.checks import run_checks

    assert "workitems.W010" in {m.id for m in run_checks()}
