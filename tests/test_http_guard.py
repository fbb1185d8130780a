"""The suite-wide guard against HTTP calls inside a database transaction (tests/http_guard.py)."""

from __future__ import annotations

import pytest
import requests
import responses
from django.db import transaction

from tests.http_guard import HttpInsideTransaction

URL = "https://downstream.test/hook"


@pytest.fixture
def endpoint():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.add(responses.POST, URL, status=204)
        yield mocked


@pytest.mark.django_db
def test_a_request_outside_any_transaction_of_the_code_goes_out_inside_the_tests_own(endpoint):
    assert requests.post(URL, timeout=1).status_code == 204


@pytest.mark.django_db
def test_a_request_inside_atomic_is_refused_and_fails_the_test(
    endpoint, no_http_inside_a_transaction
):
    with pytest.raises(HttpInsideTransaction, match="inside a database transaction"):
        with transaction.atomic():
            requests.post(URL, timeout=1)
    assert len(no_http_inside_a_transaction.violations) == 1
    no_http_inside_a_transaction.violations.clear()  # proven; let this test pass


@pytest.mark.django_db(transaction=True)
def test_the_guard_also_holds_in_transactional_tests(endpoint, no_http_inside_a_transaction):
    with transaction.atomic():
        with pytest.raises(HttpInsideTransaction):
            requests.post(URL, timeout=1)
    requests.post(URL, timeout=1)  # committed: fine
    assert len(no_http_inside_a_transaction.violations) == 1
    no_http_inside_a_transaction.violations.clear()


@pytest.mark.django_db
def test_a_swallowed_refusal_is_still_recorded(endpoint, no_http_inside_a_transaction):
    with transaction.atomic():
        try:
            requests.post(URL, timeout=1)
        except Exception:  # code under test that catches everything
            pass
    assert no_http_inside_a_transaction.violations
    no_http_inside_a_transaction.violations.clear()
