"""The dashboard's health strip shows the audit chain's last verification."""

from __future__ import annotations

import pytest

from audits.chain import audit_seal
from audits.services import record
from audits.verification import audit_chain_check
from tests.audits.test_chain import raw, tampering

pytestmark = pytest.mark.django_db
DASHBOARD = "/admin/dashboard/"


def strip(admin_client) -> str:
    html = admin_client.get(DASHBOARD).content.decode()
    start = html.rindex("<li", 0, html.index('id="health-audit-verification"') + 1)
    return html[start : html.index("</li>", start)]


def test_never_verified_says_so(admin_client):
    assert "never" in strip(admin_client) and "verify_audit" in strip(admin_client)


def test_an_intact_chain_shows_when_and_how_many_rows(admin_client):
    record(actor="a", action="x")
    audit_chain_check(actor="system")
    text = strip(admin_client)
    assert ">intact</a>" in text and "1 rows" in text
    assert "bad" not in text.split(">", 1)[0]


def test_a_broken_chain_is_shown_in_red_with_the_first_problem(admin_client):
    event = record(actor="a", action="x")
    audit_seal()
    with tampering():
        raw("UPDATE audits_auditevent SET actor = 'm' WHERE id = %s", [event.pk])
    audit_chain_check(actor="system")
    text = strip(admin_client)
    assert 'class="bad"' in text and "BROKEN" in text
    assert f"Row {event.pk} was changed" in text
