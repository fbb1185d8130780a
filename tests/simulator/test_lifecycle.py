"""The simulated org at work: items move along their worktype's destinationStatuses, each move
emits a WorkitemsEventsNotificationWorkitem event, and only enabled triggers that match it make
the data action POST to the portal."""

from __future__ import annotations

import base64
import json
import random

import pytest
import requests
from django.core.management import CommandError, call_command
from requests.adapters import BaseAdapter

from simulator import events, store
from simulator.demo import IDS
from simulator.lifecycle import LifecycleError, lifecycle_advance, lifecycle_step, next_status
from simulator.render import WORKITEM
from simulator.transport import InProcessTransport
from simulator.triggers import trigger_create, trigger_update, workitem_event_problems
from workitems.models import InboundEvent

pytestmark = pytest.mark.django_db

WORKITEMS = "/api/v2/taskmanagement/workitems"
TARGET = "http://127.0.0.1:8000/api/genesys/events/"
REFUND = IDS["worktype:refund-request"]
CLAIM = IDS["worktype:insurance-claim"]


def status(worktype: str, key: str) -> str:
    return IDS[f"status:{worktype}:{key}"]


class Recorder(BaseAdapter):
    """Stands in for the portal: records each POST and answers `status`."""

    def __init__(self, status: int = 202, error: Exception | None = None) -> None:
        super().__init__()
        self.status = status
        self.error = error
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request, **kwargs):
        self.sent.append(request)
        if self.error:
            raise self.error
        response = requests.Response()
        response.status_code = self.status
        response._content = b'{"state": "accepted"}'
        response.url = request.url
        response.request = request
        return response

    def close(self):
        pass

    def bodies(self) -> list[dict]:
        return [json.loads(r.body) for r in self.sent]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def sender(recorder) -> requests.Session:
    session = requests.Session()
    session.mount("http://127.0.0.1:8000/", recorder)
    return session


@pytest.fixture
def default_sender(monkeypatch, sender):
    """The sender the API's own events use (no sender argument there)."""
    monkeypatch.setattr(events, "SENDER", sender)
    return sender


def new_item(api, worktype=REFUND, **extra) -> dict:
    body = {"name": "Refund for order 4711", "typeId": worktype, **extra}
    if worktype == REFUND:
        body.setdefault(
            "customFields",
            {"order_number_text": "WEB-4711", "amount_number": 49.5, "vip_checkbox": True},
        )
    else:
        body.setdefault("customFields", {"policy_number_identifier": "POL-12345"})
    response = api.post(WORKITEMS, body)
    assert response.status_code == 200, response.text
    return response.json()


def trigger(*, enabled=True, criteria=None, data_format="Json", name="to the portal") -> dict:
    return trigger_create(
        body={
            "name": name,
            "topicName": "v2.taskmanagement.workitems.{id}",
            "target": {
                "type": "Workflow",
                "id": "b796bd10-b101-4a46-acc6-2705157d00e1",
                "workflowTargetSettings": {"dataFormat": data_format},
            },
            "enabled": enabled,
            "matchCriteria": criteria or [],
        }
    )


# --- Moves ------------------------------------------------------------------------------------


def test_on_command_an_item_takes_the_plain_path_open_in_progress_closed(api, demo, clock, sender):
    item = new_item(api)
    clock.advance(60)
    first = lifecycle_advance(workitem_id=item["id"], sender=sender)
    clock.advance(60)
    second = lifecycle_advance(workitem_id=item["id"], sender=sender)
    assert lifecycle_advance(workitem_id=item["id"], sender=sender) is None  # closed: no move

    assert first.body["statusId"] == status("refund-request", "investigating")
    assert first.body["statusCategory"] == "InProgress"
    assert first.body["assignmentState"] == "Connected"
    assert first.body["assigneeId"] == IDS["user:amara-okafor"]  # the first joined member
    assert "dateClosed" not in first.body
    assert second.body["statusId"] == status("refund-request", "refunded")
    assert second.body["statusCategory"] == "Closed"
    assert second.body["assignmentState"] == "Disconnected"
    assert second.body["dateClosed"] == second.body["dateModified"] == "2026-03-02T09:32:10.000Z"

    stored = store.get(WORKITEM, item["id"])
    assert stored["statusCategory"] == "Closed"
    assert stored["dateStatusChanged"] == stored["dateModified"] == second.body["dateModified"]
    assert api.get(f"{WORKITEMS}/{item['id']}").json()["status"]["name"] == "Refunded"


def test_a_chosen_status_must_be_a_destination_of_the_current_one(api, demo, sender):
    item = new_item(api)
    with pytest.raises(
        LifecycleError,
        match="cannot move to Refunded; its destinations are: Investigating, Rejected",
    ):
        lifecycle_advance(
            workitem_id=item["id"], status_id=status("refund-request", "refunded"), sender=sender
        )
    with pytest.raises(LifecycleError, match="not a status of worktype"):
        lifecycle_advance(
            workitem_id=item["id"], status_id=status("insurance-claim", "assessing"), sender=sender
        )
    with pytest.raises(LifecycleError, match="does not exist"):
        lifecycle_advance(workitem_id="6b2f0c1e-0000-0000-0000-000000000000", sender=sender)
    moved = lifecycle_advance(
        workitem_id=item["id"], status_id=status("refund-request", "rejected"), sender=sender
    )
    assert moved.body["statusCategory"] == "Closed"


def test_steps_follow_destination_statuses_until_every_item_is_closed(api, demo, clock, sender):
    items = [
        new_item(api),
        new_item(api, worktype=CLAIM),
        new_item(api),
        new_item(api, worktype=CLAIM),
    ]
    rng = random.Random(7)
    seen: dict[str, list[dict]] = {i["id"]: [] for i in items}
    for _ in range(20):
        for event in lifecycle_step(rng=rng, sender=sender, wait_probability=0.5):
            seen[event.body["id"]].append(event.body)
        clock.advance(5)
    statuses = {s["id"]: s for s in store.all_of("status")}
    waited = False
    for item in items:
        path = seen[item["id"]]
        assert path and path[-1]["statusCategory"] == "Closed"
        previous = item["status"]["id"]
        for body in path:
            (change,) = [c for c in body["changes"] if c["field"] == "statusId"]
            assert change == {
                "op": "replace",
                "field": "statusId",
                "oldValue": previous,
                "newValue": body["statusId"],
            }
            assert body["statusId"] in statuses[previous]["destinationStatusIds"]
            previous = body["statusId"]
        waited = waited or any(b["statusCategory"] == "Waiting" for b in path)
    assert waited  # with this seed at least one item waited on the way
    assert lifecycle_step(rng=rng, sender=sender) == []


def test_the_same_seed_makes_the_same_choices(api, demo):
    item = store.get(WORKITEM, new_item(api)["id"])
    item |= {"statusId": status("refund-request", "investigating"), "statusCategory": "InProgress"}
    picks = [
        [next_status(item, rng=rng)["name"] for _ in range(12)]
        for rng in (random.Random(3), random.Random(3))
    ]
    assert picks[0] == picks[1]
    assert set(picks[0]) == {"Awaiting customer", "Refunded", "Rejected"}


def test_date_modified_strictly_increases_even_when_the_clock_stands_still(
    api, demo, clock, sender
):
    item = new_item(api)
    stamps = [item["dateModified"]]
    stamps += [e.body["dateModified"] for e in lifecycle_step(rng=random.Random(1), sender=sender)]
    stamps += [e.body["dateModified"] for e in lifecycle_step(rng=random.Random(1), sender=sender)]
    assert stamps == sorted(set(stamps)) and len(stamps) == 3
    assert stamps[1] == "2026-03-02T09:30:10.001Z"


def test_move_probability_leaves_some_items_where_they_are(api, demo, sender):
    for _ in range(6):
        new_item(api)
    moved = lifecycle_step(rng=random.Random(2), sender=sender, move_probability=0.5)
    assert 0 < len(moved) < 6


# --- Event shape ------------------------------------------------------------------------------


def test_the_event_is_a_flat_workitem_event_in_a_notification_envelope(api, demo, clock, sender):
    item = new_item(api, externalTag="crm-4711")
    event = lifecycle_advance(workitem_id=item["id"], sender=sender)
    envelope = event.envelope
    assert set(envelope) == {"topicName", "version", "eventBody", "metadata"}
    assert envelope["topicName"] == f"v2.taskmanagement.workitems.{item['id']}"
    assert envelope["version"] == "2" and envelope["metadata"]["CorrelationId"]
    body = event.body
    assert workitem_event_problems(body) == []
    assert body["operation"] == "edit"
    assert body["typeId"] == REFUND and body["typeName"] == "Refund request"
    assert body["workbinId"] == IDS["workbin:refunds"] and body["queueId"] == IDS["queue:refunds"]
    assert body["externalTag"] == "crm-4711" and body["priority"] == 10
    assert body["dateCreated"] == item["dateCreated"]
    assert body["customFields"] == {
        "order_number_text": {"dataType": "string", "value": "WEB-4711"},
        "amount_number": {"dataType": "number", "value": "49.5"},
        "vip_checkbox": {"dataType": "boolean$", "value": "true"},
    }
    assert {c["field"] for c in body["changes"]} == {
        "statusId",
        "statusCategory",
        "assigneeId",
        "assignmentState",
    }
    assert {
        "op": "replace",
        "field": "statusCategory",
        "oldValue": "Open",
        "newValue": "InProgress",
    } in body["changes"]
    assert {"op": "add", "field": "assigneeId", "newValue": body["assigneeId"]} in body["changes"]
    assert not any(isinstance(v, dict) and "selfUri" in v for v in body.values())  # no REST refs
    assert None not in body.values() and "dateStatusChanged" not in body


# --- Delivery ---------------------------------------------------------------------------------


def test_only_enabled_triggers_whose_criteria_match_make_the_data_action_post(
    api, demo, sender, recorder
):
    item = new_item(api)
    wanted = trigger(
        name="edits", criteria=[{"jsonPath": "operation", "operator": "Equal", "value": "edit"}]
    )
    trigger(name="disabled", enabled=False)
    trigger(
        name="waiting only",
        criteria=[{"jsonPath": "statusCategory", "operator": "Equal", "value": "Waiting"}],
    )
    event = lifecycle_advance(workitem_id=item["id"], sender=sender)

    assert [(d.trigger_id, d.status_code, d.error) for d in event.deliveries] == [
        (wanted["id"], 202, "")
    ]
    (request,) = recorder.sent
    assert request.method == "POST" and request.url == TARGET
    assert request.headers["X-Ingest-Secret"] == "demo-ingest-secret"
    assert request.headers["Content-Type"] == "application/json"
    # A Json trigger hands the workflow the event body itself as jsonData: that is what is sent.
    assert json.loads(request.body) == event.body


def test_a_trigger_disabled_later_stops_the_posts(api, demo, sender, recorder):
    item = new_item(api)
    on = trigger()
    lifecycle_advance(workitem_id=item["id"], sender=sender)
    off = {k: v for k, v in on.items() if k not in ("id",)} | {"enabled": False}
    trigger_update(trigger_id=on["id"], body=off)
    assert lifecycle_advance(workitem_id=item["id"], sender=sender).deliveries == []
    assert len(recorder.sent) == 1


def test_every_matching_trigger_posts_once_and_top_level_primitives_send_no_objects(
    api, demo, sender, recorder
):
    item = new_item(api)
    trigger(name="json")
    trigger(name="primitives", data_format="TopLevelPrimitives")
    event = lifecycle_advance(workitem_id=item["id"], sender=sender)
    assert [d.trigger_name for d in event.deliveries] == ["json", "primitives"]
    whole, primitives = recorder.bodies()
    assert whole == event.body
    assert primitives["id"] == item["id"] and primitives["statusCategory"] == "InProgress"
    assert "customFields" not in primitives and "changes" not in primitives


def test_basic_auth_is_used_when_no_secret_is_configured(api, demo, sender, recorder, settings):
    settings.INGEST_SECRETS = []
    settings.INGEST_BASIC_AUTH = ["genesys:s3cret-pass"]
    trigger()
    lifecycle_advance(workitem_id=new_item(api)["id"], sender=sender)
    (request,) = recorder.sent
    assert (
        request.headers["Authorization"]
        == "Basic " + base64.b64encode(b"genesys:s3cret-pass").decode()
    )
    assert "X-Ingest-Secret" not in request.headers


def test_the_target_url_comes_from_the_setting(api, demo, sender, recorder, settings):
    settings.SIMULATOR_EVENT_TARGET_URL = "http://127.0.0.1:8000/api/genesys/events"
    trigger()
    lifecycle_advance(workitem_id=new_item(api)["id"], sender=sender)
    assert recorder.sent[0].url == "http://127.0.0.1:8000/api/genesys/events"


@pytest.mark.parametrize(
    ("adapter", "expected"),
    [
        (Recorder(status=503), "accepted"),
        (Recorder(error=requests.ConnectionError("refused")), "ConnectionError"),
    ],
)
def test_a_failed_post_is_reported_and_the_move_still_happens(api, demo, adapter, expected):
    session = requests.Session()
    session.mount("http://127.0.0.1:8000/", adapter)
    item = new_item(api)
    trigger()
    event = lifecycle_advance(workitem_id=item["id"], sender=session)
    (delivery,) = event.deliveries
    assert not delivery.ok and expected in delivery.error
    assert store.get(WORKITEM, item["id"])["statusCategory"] == "InProgress"


def test_creating_a_work_item_emits_an_add_event(
    api, demo, default_sender, recorder, django_capture_on_commit_callbacks
):
    trigger(criteria=[{"jsonPath": "operation", "operator": "Equal", "value": "add"}])
    with django_capture_on_commit_callbacks(execute=True):
        item = new_item(api)
    (event,) = recorder.bodies()
    assert event["operation"] == "add" and event["id"] == item["id"]
    assert event["statusCategory"] == "Open" and event["dateModified"] == item["dateCreated"]
    assert "changes" not in event


def test_patch_and_delete_emit_edit_and_delete_events(
    api, demo, default_sender, recorder, django_capture_on_commit_callbacks
):
    item = new_item(api)
    trigger()
    with django_capture_on_commit_callbacks(execute=True):
        api.patch(f"{WORKITEMS}/{item['id']}", {"priority": 99})
        api.patch(f"{WORKITEMS}/{item['id']}", {"priority": 99})  # no change: no event
        api.session.delete(api.url(f"{WORKITEMS}/{item['id']}"), headers=api.headers())
    edit, gone = recorder.bodies()
    assert edit["operation"] == "edit" and edit["priority"] == 99
    assert edit["changes"] == [
        {"op": "replace", "field": "priority", "oldValue": "10", "newValue": "99"}
    ]
    assert gone["operation"] == "delete" and gone["id"] == item["id"]


def test_the_data_action_reaches_the_portal_ingest_endpoint_in_process(api, demo):
    session = requests.Session()
    session.mount("http://127.0.0.1:8000/", InProcessTransport(raise_exceptions=True))
    item = new_item(api)
    trigger()
    event = lifecycle_advance(workitem_id=item["id"], sender=session)
    assert [d.status_code for d in event.deliveries] == [202]
    stored = InboundEvent.objects.get()
    assert stored.state == InboundEvent.State.ACCEPTED and stored.envelope == "bare"
    assert stored.workitem_genesys_id == item["id"] and stored.operation == "edit"


# --- Command ----------------------------------------------------------------------------------


def test_the_command_moves_items_once_or_on_command(api, demo, default_sender, capsys):
    item = new_item(api)
    call_command("simulator_lifecycle", "--once", "--seed", "1")
    assert "→ InProgress" in capsys.readouterr().out
    call_command(
        "simulator_lifecycle",
        "--item",
        item["id"],
        "--status",
        status("refund-request", "rejected"),
    )
    assert "→ Closed" in capsys.readouterr().out
    call_command("simulator_lifecycle", "--item", item["id"])
    assert "closed; nothing to do" in capsys.readouterr().out
    with pytest.raises(CommandError, match="--status needs --item"):
        call_command("simulator_lifecycle", "--status", "x")
    with pytest.raises(CommandError, match="does not exist"):
        call_command("simulator_lifecycle", "--item", "6b2f0c1e-0000-0000-0000-000000000000")
