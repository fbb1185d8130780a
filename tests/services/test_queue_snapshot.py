from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from tests import factories
from workitems.genesys import GenesysError
from workitems.models import LocalState, QueueMember, StatusCategory, WorkItem
from workitems.services.queue_snapshot import MemberSnapshots, queue_members_remember_refresh

PAGE_SIZE = 100  # the queue-members endpoint's maximum page size


def genesys_error(status: int, message: str = "Genesys said no") -> GenesysError:
    return GenesysError(status=status, code="some.code", message=message, context_id="ctx-123")


def as_genesys_member(row: QueueMember) -> dict:
    return {
        "id": row.user_id,
        "name": row.name,
        "joined": row.joined,
        "ringNumber": row.ring_number,
        "routingStatus": {"status": row.routing_status},
        "user": {"id": row.user_id, "name": row.name, "skills": row.skills},
    }


class FakeGenesys:
    """Serves queue members as Genesys would, from the mirror as it stands (or `members`), in
    pages of 100; counts invocations and page requests; can raise per queue."""

    def __init__(self, *, members: dict[str, list[dict]] | None = None, errors=None) -> None:
        self.members = members
        self.errors = errors or {}
        self.calls: Counter[str] = Counter()
        self.pages = 0

    def iter_queue_members(self, *, queue_id: str):
        self.calls[queue_id] += 1
        self.pages += 1
        if queue_id in self.errors:
            raise self.errors[queue_id]
        if self.members is not None:
            rows = self.members.get(queue_id, [])
        else:
            rows = [
                as_genesys_member(m)
                for m in QueueMember.objects.filter(queue__genesys_id=queue_id, active=True)
            ]
        for start in range(0, len(rows), PAGE_SIZE):
            if start:
                self.pages += 1
            yield from rows[start : start + PAGE_SIZE]


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def _members(q, n: int) -> None:
    QueueMember.objects.bulk_create(
        QueueMember(queue=q, user_id=f"user-{q.pk}-{i}", name=f"Agent {i}", joined=True)
        for i in range(n)
    )


@pytest.mark.django_db
def test_first_get_refreshes_members_from_genesys_and_later_gets_reuse_them():
    q = factories.queue()
    client = FakeGenesys(
        members={
            q.genesys_id: [
                {
                    "id": "u1",
                    "name": "Ann",
                    "joined": True,
                    "routingStatus": {"status": "IDLE"},
                    "user": {"id": "u1", "skills": []},
                },
            ]
        }
    )
    snapshots = MemberSnapshots(client=client)

    first = snapshots.get(q)
    second = snapshots.get(q)

    assert first is second
    assert [m.user_id for m in first.members] == ["u1"]
    assert first.present_in_genesys and first.error == ""
    assert first.refreshed_at == snapshots.now
    assert client.calls[q.genesys_id] == 1


@pytest.mark.django_db
def test_a_thousand_drafts_on_one_queue_cost_at_most_five_member_pages():
    from workitems.services.routability import workitems_check_routability

    q = factories.queue()
    _members(q, 250)
    wt = factories.worktype(default_queue=q)
    WorkItem.objects.bulk_create(
        WorkItem(external_ref=f"bulk-{i}", name=f"Item {i}", worktype=wt) for i in range(1000)
    )
    client = FakeGenesys()

    reports = workitems_check_routability(
        items=WorkItem.objects.all(), actor="tester", client=client
    )

    assert len(reports) == 1000
    assert client.calls == {q.genesys_id: 1}
    assert client.pages == 3  # 250 members in pages of 100
    assert client.pages <= 5


@pytest.mark.django_db
def test_a_second_queue_adds_only_its_own_member_calls():
    from workitems.services.routability import workitems_check_routability

    q1, q2 = factories.queue(), factories.queue()
    _members(q1, 30)
    _members(q2, 30)
    wt1 = factories.worktype(default_queue=q1)
    wt2 = factories.worktype(default_queue=q2)
    WorkItem.objects.bulk_create(
        [WorkItem(external_ref=f"a-{i}", name=f"Item {i}", worktype=wt1) for i in range(300)]
        + [WorkItem(external_ref=f"b-{i}", name=f"Item {i}", worktype=wt2) for i in range(300)]
    )
    client = FakeGenesys()

    workitems_check_routability(items=WorkItem.objects.all(), actor="tester", client=client)

    assert client.calls == {q1.genesys_id: 1, q2.genesys_id: 1}


@pytest.mark.django_db
def test_another_run_within_the_cache_period_reads_the_mirror_without_calling_genesys():
    q = factories.queue()
    factories.member(q)
    now = timezone.now()
    client = FakeGenesys()
    MemberSnapshots(client=client, now=now).get(q)

    later = MemberSnapshots(client=client, now=now + timedelta(seconds=30)).get(q)

    assert client.calls[q.genesys_id] == 1
    assert len(later.members) == 1
    assert later.refreshed_at == now


@pytest.mark.django_db
def test_expired_cache_triggers_a_refresh(settings):
    settings.GENESYS_MEMBER_CACHE_SECONDS = 60
    q = factories.queue()
    now = timezone.now()
    client = FakeGenesys()
    MemberSnapshots(client=client, now=now).get(q)

    snapshot = MemberSnapshots(client=client, now=now + timedelta(seconds=61)).get(q)

    assert client.calls[q.genesys_id] == 2
    assert snapshot.refreshed_at == now + timedelta(seconds=61)


@pytest.mark.django_db
def test_a_refresh_recorded_elsewhere_counts_as_fresh():
    q = factories.queue()
    queue_members_remember_refresh(queue=q, at=timezone.now())
    client = FakeGenesys()

    MemberSnapshots(client=client).get(q)

    assert client.calls == {}


@pytest.mark.django_db
def test_queue_missing_in_genesys_is_not_present_and_has_no_members():
    q = factories.queue()
    factories.member(q)
    client = FakeGenesys(errors={q.genesys_id: genesys_error(404, "Queue not found")})

    snapshot = MemberSnapshots(client=client).get(q)

    assert snapshot.present_in_genesys is False
    assert snapshot.members == []
    assert snapshot.error == ""


@pytest.mark.django_db
def test_a_missing_queue_is_remembered_for_the_cache_period():
    q = factories.queue()
    client = FakeGenesys(errors={q.genesys_id: genesys_error(404)})
    MemberSnapshots(client=client).get(q)

    again = MemberSnapshots(client=client).get(q)

    assert again.present_in_genesys is False
    assert client.calls[q.genesys_id] == 1


@pytest.mark.django_db
def test_other_genesys_errors_keep_the_mirror_and_say_why_it_may_be_stale():
    q = factories.queue()
    earlier = timezone.now() - timedelta(hours=2)
    factories.member(q, name="Ann", synced_at=earlier)
    client = FakeGenesys(errors={q.genesys_id: genesys_error(503, "Service unavailable")})

    snapshot = MemberSnapshots(client=client).get(q)

    assert snapshot.present_in_genesys is True
    assert [m.name for m in snapshot.members] == ["Ann"]
    assert "503" in snapshot.error and "Service unavailable" in snapshot.error
    assert snapshot.refreshed_at == earlier


@pytest.mark.django_db
def test_a_failed_refresh_is_retried_by_the_next_run():
    q = factories.queue()
    failing = FakeGenesys(errors={q.genesys_id: genesys_error(500)})
    MemberSnapshots(client=failing).get(q)
    working = FakeGenesys()

    snapshot = MemberSnapshots(client=working).get(q)

    assert working.calls[q.genesys_id] == 1
    assert snapshot.error == ""


@pytest.mark.django_db
def test_inactive_members_are_left_out():
    q = factories.queue()
    factories.member(q, name="Current")
    factories.member(q, name="Gone", active=False)
    queue_members_remember_refresh(queue=q, at=timezone.now())

    snapshot = MemberSnapshots(client=FakeGenesys()).get(q)

    assert [m.name for m in snapshot.members] == ["Current"]


@pytest.mark.django_db
def test_open_items_count_items_open_in_genesys_including_those_on_the_worktype_default_queue():
    q, other = factories.queue(), factories.queue()
    wt_default_q = factories.worktype(default_queue=q)
    wt_other = factories.worktype(default_queue=other)
    submitted = {"local_state": LocalState.SUBMITTED, "status_category": StatusCategory.OPEN}
    factories.workitem(worktype=wt_other, queue=q, **submitted)  # explicit queue
    factories.workitem(worktype=wt_default_q, **submitted)  # worktype default queue
    factories.workitem(worktype=wt_default_q, local_state=LocalState.SUBMITTING)
    # Not open in Genesys, or open elsewhere:
    factories.workitem(worktype=wt_default_q)  # draft
    factories.workitem(worktype=wt_default_q, local_state=LocalState.CHECKED)
    factories.workitem(worktype=wt_default_q, local_state=LocalState.FAILED)
    factories.workitem(
        worktype=wt_default_q,
        local_state=LocalState.SUBMITTED,
        status_category=StatusCategory.CLOSED,
    )
    factories.workitem(worktype=wt_default_q, queue=other, **submitted)
    factories.workitem(worktype=wt_other, **submitted)
    for each in (q, other):
        queue_members_remember_refresh(queue=each, at=timezone.now())

    snapshots = MemberSnapshots(client=FakeGenesys())
    snapshots.prefetch([q, other])

    assert snapshots.get(q).open_items == 3
    assert snapshots.get(other).open_items == 2


@pytest.mark.django_db
def test_a_refresh_after_the_cache_expired_calls_genesys_outside_any_transaction(
    genesys_simulator, settings
):
    """On SQLite a transaction held across the call kept the simulator (same file) from writing:
    "database is locked". The suite-wide guard fails this test if the call is made inside one."""
    from workitems.models import Queue
    from workitems.services.reference_sync import reference_sync

    reference_sync(kinds=["queues", "members"], actor="test")
    settings.GENESYS_MEMBER_CACHE_SECONDS = 0  # every refresh record is now expired
    queue = Queue.objects.filter(active=True).order_by("pk").first()
    snapshot = MemberSnapshots().get(queue)
    assert snapshot.error == ""
    assert snapshot.present_in_genesys
    assert snapshot.members
