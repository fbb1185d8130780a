import json
import logging

import pytest
from django.test import override_settings

from audits.models import AuditEvent, Outcome
from audits.services import AuditEntry, record, record_many, scrub

pytestmark = pytest.mark.django_db


def test_record_writes_one_row_and_one_json_log_line(caplog):
    with caplog.at_level(logging.INFO, logger="audit"):
        event = record(
            actor="alice",
            action="workitem.submit",
            object_type="WorkItem",
            object_id=42,
            correlation_id="crm-4711",
            context={"verdict": "routable"},
        )
    stored = AuditEvent.objects.get()
    assert stored.pk == event.pk
    assert (stored.actor, stored.action, stored.object_id, stored.outcome) == (
        "alice",
        "workitem.submit",
        "42",
        Outcome.SUCCESS,
    )
    [line] = [r for r in caplog.records if r.name == "audit"]
    assert line.audit["correlation_id"] == "crm-4711"
    assert line.audit["id"] == stored.pk


@override_settings(GENESYS_CLIENT_SECRET="s3cr3t-client-value", INGEST_SECRETS=["ingest-shared-1"])
def test_record_masks_configured_secrets_and_secret_named_keys():
    record(
        actor="system",
        action="genesys.error",
        context={
            "message": "token request with s3cr3t-client-value failed",
            "nested": [{"header": "X-Ingest-Secret: ingest-shared-1"}],
            "client_secret": "anything",
            "Authorization": "Bearer abc",
        },
    )
    context = AuditEvent.objects.get().context
    dumped = json.dumps(context)
    assert "s3cr3t-client-value" not in dumped
    assert "ingest-shared-1" not in dumped
    assert context["client_secret"] == "[redacted]"
    assert context["Authorization"] == "[redacted]"
    assert context["message"] == "token request with [redacted] failed"


def test_record_many_writes_all_rows_in_bulk(django_assert_max_num_queries):
    entries = [
        AuditEntry(actor="system", action="sla.breached", object_id=str(i)) for i in range(250)
    ]
    with django_assert_max_num_queries(10):
        written = record_many(entries)
    assert written == 250
    assert AuditEvent.objects.filter(action="sla.breached").count() == 250


def test_scrub_leaves_harmless_values_alone():
    value = {"count": 3, "names": ["a", "b"], "ok": True}
    assert scrub(value, secrets=["zzzz"]) == value
