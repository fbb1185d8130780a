"""The sender and the admin's "waiting" filter share one rule for an item's delivery order."""

import base64

import pytest
import responses
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db import transaction
from django.test import override_settings
from django.urls import reverse

from tests import factories
from workitems.models import Delivery
from workitems.selectors.delivery_order import delivery_earlier_undelivered
from workitems.services.delivery import deliveries_skip, send_due_deliveries
from workitems.services.outbox import delivery_enqueue

if Delivery not in admin.site._registry:
    import workitems.admin.deliveries  # noqa: F401

pytestmark = pytest.mark.django_db

State = Delivery.State
URL = "https://fulfilment.test/hooks/workitems"
SECRET = "whsec_" + base64.b64encode(b"downstream-test-signing-key-0001").decode()


def waiting_in_admin(client) -> set[int]:
    response = client.get(reverse("admin:workitems_delivery_changelist"), {"attention": "waiting"})
    assert response.status_code == 200
    return {obj.pk for obj in response.context["cl"].result_list}


@pytest.fixture
def viewer(client):
    user = get_user_model().objects.create_user("viewer", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_delivery"))
    client.force_login(user)
    return user


@pytest.mark.parametrize("done_state", [State.DELIVERED, State.SKIPPED])
def test_an_earlier_delivery_delivered_or_skipped_counts_as_done(done_state):
    item = factories.workitem()
    with transaction.atomic():
        first, second = delivery_enqueue(item=item), delivery_enqueue(item=item)
    blocked = set(
        Delivery.objects.filter(delivery_earlier_undelivered()).values_list("pk", flat=True)
    )
    assert blocked == {second.pk}

    Delivery.objects.filter(pk=first.pk).update(state=done_state)

    assert not Delivery.objects.filter(delivery_earlier_undelivered()).exists()


@override_settings(DOWNSTREAM_URL=URL, DOWNSTREAM_SIGNING_SECRET=SECRET)
def test_after_skipping_delivery_1_the_sender_sends_2_and_the_admin_does_not_list_it_waiting(
    client, viewer
):
    cache.clear()
    item = factories.workitem()
    with transaction.atomic():
        first, second = delivery_enqueue(item=item), delivery_enqueue(item=item)
    Delivery.objects.filter(pk=first.pk).update(state=State.DEAD, attempts=8)
    assert waiting_in_admin(client) == {second.pk}

    assert deliveries_skip(ids=[first.pk], actor="supervisor") == 1

    assert waiting_in_admin(client) == set()
    with responses.RequestsMock() as downstream:
        downstream.add(responses.POST, URL, status=200)
        send_due_deliveries()
        assert len(downstream.calls) == 1
    second.refresh_from_db()
    assert second.state == State.DELIVERED
    cache.clear()
