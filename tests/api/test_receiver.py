import base64
import json
import logging
import time

import pytest
import responses
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db import transaction
from django.test import override_settings
from django.urls import reverse

from tests import factories
from workitems.api.receiver import RECEIVED_KEEP, received_deliveries
from workitems.models import Delivery
from workitems.services.delivery import deliveries_send_due
from workitems.services.outbox import delivery_enqueue
from workitems.services.signing import webhook_headers

KEY_OLD = b"receiver-test-key-old-0000000001"
KEY_NEW = b"receiver-test-key-new-0000000002"
OLD = "whsec_" + base64.b64encode(KEY_OLD).decode()
NEW = "whsec_" + base64.b64encode(KEY_NEW).decode()
BODY = json.dumps({"orderId": "ref-1", "sequence": 1, "taskStatus": "Working"}).encode()

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def receiver_secret():
    cache.clear()
    with override_settings(DOWNSTREAM_SIGNING_SECRET=OLD):
        yield
    cache.clear()


def post(client, body: bytes, headers: dict):
    return client.post(
        reverse("demo-receiver"),
        data=body,
        content_type="application/json",
        headers=headers,
    )


def signed(secrets=OLD, msg_id: str = "msg_1", body: bytes = BODY, timestamp=None) -> dict:
    return webhook_headers(msg_id=msg_id, body=body, secrets=secrets, timestamp=timestamp)


def test_a_correctly_signed_delivery_is_acknowledged_kept_and_logged(client, caplog):
    with caplog.at_level(logging.INFO, logger="demo_receiver"):
        response = post(client, BODY, signed())

    assert response.status_code == 204
    (kept,) = received_deliveries()
    assert kept["webhook_id"] == "msg_1"
    assert kept["payload"] == json.loads(BODY)
    assert kept["duplicate"] is False
    (line,) = [r for r in caplog.records if r.name == "demo_receiver"]
    assert line.delivery["payload"]["orderId"] == "ref-1"


def test_a_bad_signature_is_401_and_not_kept(client):
    headers = signed(secrets=NEW)  # a key the receiver does not hold
    response = post(client, BODY, headers)
    assert response.status_code == 401
    assert received_deliveries() == []


def test_a_changed_body_is_401(client):
    response = post(client, BODY.replace(b"Working", b"Done"), signed())
    assert response.status_code == 401


def test_missing_signature_headers_are_401(client):
    assert post(client, BODY, {}).status_code == 401


def test_a_stale_timestamp_is_401(client):
    response = post(client, BODY, signed(timestamp=int(time.time()) - 3600))
    assert response.status_code == 401


@pytest.mark.parametrize("sender", [OLD, NEW, f"{OLD},{NEW}"], ids=["old", "new", "both"])
def test_during_a_rotation_the_receiver_accepts_either_secret(client, sender):
    with override_settings(DOWNSTREAM_SIGNING_SECRET=f"{OLD},{NEW}"):
        assert post(client, BODY, signed(secrets=sender)).status_code == 204


def test_a_repeated_webhook_id_is_acknowledged_and_marked_duplicate(client):
    post(client, BODY, signed())
    assert post(client, BODY, signed()).status_code == 204
    latest, first = received_deliveries()
    assert (latest["duplicate"], first["duplicate"]) == (True, False)


def test_only_the_last_n_deliveries_are_kept_newest_first(client):
    for n in range(RECEIVED_KEEP + 5):
        post(client, BODY, signed(msg_id=f"msg_{n}"))
    kept = received_deliveries()
    assert len(kept) == RECEIVED_KEEP
    assert kept[0]["webhook_id"] == f"msg_{RECEIVED_KEEP + 4}"


def test_signed_json_that_is_not_json_is_400(client):
    body = b"not json"
    assert post(client, body, signed(body=body)).status_code == 400


def test_no_csrf_token_is_needed(client):
    client = client.__class__(enforce_csrf_checks=True)
    assert post(client, BODY, signed()).status_code == 204


def test_dashboard_viewers_can_read_what_arrived_others_cannot(client):
    post(client, BODY, signed())
    assert client.get(reverse("demo-receiver")).status_code == 403
    staff = get_user_model().objects.create_user("ops", password="x", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_dashboard"))
    client.force_login(staff)
    response = client.get(reverse("demo-receiver"))
    assert response.status_code == 200
    assert response.json()["received"][0]["webhook_id"] == "msg_1"


def test_the_sender_and_the_receiver_agree_end_to_end(client):
    """The sender's real request, replayed into the receiver through the test client."""
    item = factories.workitem()
    with transaction.atomic():
        delivery = delivery_enqueue(item=item)

    def forward(request):
        headers = {k: v for k, v in request.headers.items() if k.startswith("webhook-")}
        answer = post(client, request.body, headers)
        return (answer.status_code, {}, b"")

    with (
        override_settings(DOWNSTREAM_URL="https://fulfilment.test/in"),
        responses.RequestsMock() as rsps,
    ):
        rsps.add_callback(responses.POST, "https://fulfilment.test/in", callback=forward)
        assert deliveries_send_due().delivered == 1

    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.DELIVERED
    (kept,) = received_deliveries()
    assert kept["webhook_id"] == delivery.webhook_id
    assert kept["payload"]["orderId"] == item.external_ref
