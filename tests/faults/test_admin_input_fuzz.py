"""Fuzzing what supervisors type and upload in the admin, with hypothesis: a CSV import (upload,
preview, confirm) and a work item's custom_fields in the admin form. Whatever arrives — any text
(NUL and control characters included), broken quoting, random bytes, JSON with NaN, Infinity,
huge or deep values — the answer is never a 5xx, and what is stored reads back as it was
accepted.

Bounded like the ingest fuzz: 200 examples per test, no deadline, no example database on disk.
Each example runs in a savepoint, so one failure cannot poison the others.
"""

from __future__ import annotations

import json
import os

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests import factories
from tests.services.test_csv_import import make_reference
from workitems.models import ImportBatch, WorkItem
from workitems.services.csv_import import COLUMNS

pytestmark = pytest.mark.django_db

FUZZ = hsettings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=bool(os.environ.get("CI")),
)

# --- Strategies --------------------------------------------------------------------------------

# Text as a spreadsheet might hold it, and worse: NUL, quotes, separators, line breaks.
cell_text = st.text(
    st.characters(blacklist_categories=["Cs"]) | st.sampled_from(['"', ",", ";", "\n", "\x00"]),
    max_size=30,
)
numbers = st.integers(min_value=-(2**70), max_value=2**70) | st.floats(
    allow_nan=True, allow_infinity=True
)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | st.text(st.characters(), max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(st.characters(), max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


def _dumps(value) -> str:
    # allow_nan writes NaN/Infinity; lone surrogates are written as \ud800 escapes.
    return json.dumps(value, allow_nan=True)


custom_field_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=4).map(_dumps)
json_texts = (
    json_values.map(_dumps)
    | custom_field_objects
    | st.integers(min_value=1, max_value=6000).map(lambda n: "[" * n + "]" * n)
    | st.sampled_from(
        [
            '{"a": NaN}',
            '{"a": 1e400}',
            '{"a": -Infinity}',
            '{"a": "\\u0000"}',
            '{"\\u0000": 1}',
            '{"a": "\\ud800"}',
            '{"n": ' + "9" * 5000 + "}",
            "{",
            "",
            "null",
        ]
    )
    | cell_text
)
worktype_cells = st.sampled_from(["Refund request", "Insurance claim", "refund REQUEST", ""]) | (
    cell_text
)
queue_cells = st.sampled_from(["", "Billing", "Claims", "Nowhere"]) | cell_text
date_cells = (
    st.sampled_from(["", "2030-01-01T09:00:00Z", "2030-01-01", "9999-12-31T23:59:59-23:59", "soon"])
    | cell_text
)


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


BY_COLUMN = {
    "external_ref": st.sampled_from(["CRM-1", "CRM-2", "CRM-3"]) | cell_text,
    "worktype": worktype_cells,
    "queue": queue_cells,
    "priority": st.integers(min_value=-(10**9), max_value=10**12).map(str) | cell_text,
    "date_due": date_cells,
    "date_expires": date_cells,
    "skills": st.sampled_from(["", "English", "English; Refunds", "Nope"]) | cell_text,
    "preferred_agents": st.sampled_from(["", "Sam Lee", "Alex Kim", "user-sam"]) | cell_text,
    "custom_fields": json_texts,
}


def _join(draw, columns: list[str], rows: list[list[str]]) -> str:
    lines = [
        ",".join(
            _quote(c) if ("," in c or '"' in c or "\n" in c or draw(st.booleans())) else c
            for c in cells
        )
        for cells in [columns, *rows]
    ]
    separator = draw(st.sampled_from(["\n", "\r\n"]))
    return separator.join(lines) + separator


@st.composite
def valid_files_with_fuzzed_cells(draw) -> str:
    """Rows that would import, but for custom_fields (any JSON text) and now and then one other
    cell: the path through preview *and* confirm."""
    columns = draw(st.permutations(list(COLUMNS)))
    rows = []
    for n in range(draw(st.integers(min_value=1, max_value=4))):
        cells = dict.fromkeys(columns, "")
        cells.update(external_ref=f"CRM-{n}", name=f"Work item {n}", worktype="Refund request")
        cells["custom_fields"] = draw(custom_field_objects | json_texts)
        if draw(st.integers(min_value=0, max_value=3)) == 0:
            column = draw(st.sampled_from(columns))
            cells[column] = draw(BY_COLUMN.get(column, cell_text))
        rows.append([cells[c] for c in columns])
    return _join(draw, columns, rows)


@st.composite
def any_files(draw) -> str:
    columns = draw(
        st.permutations(list(COLUMNS))
        | st.lists(st.sampled_from(list(COLUMNS)) | cell_text, min_size=1, max_size=12)
    )
    rows = []
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        cells = [draw(BY_COLUMN.get(c, cell_text)) for c in columns]
        if draw(st.booleans()):
            cells.append(draw(cell_text))  # one cell too many
        rows.append(cells)
    return _join(draw, columns, rows)


uploads = (
    valid_files_with_fuzzed_cells().map(lambda text: text.encode("utf-8"))
    | any_files().map(lambda text: text.encode("utf-8"))
    | st.binary(max_size=300)
)


# --- Fixtures and checks -----------------------------------------------------------------------


def staff(client, username: str, *codenames: str):
    user = get_user_model().objects.create_user(username, password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return user


def answered(response) -> None:
    assert response.status_code < 500, response.content[:500]


def same_json(stored, typed) -> bool:
    """Equal as JSON consumers see it: numbers as 64-bit floats (PostgreSQL's jsonb keeps the
    decimal digits, so 6.340752814398049e+16 reads back as the integer 63407528143980490)."""
    if isinstance(stored, dict) and isinstance(typed, dict):
        return stored.keys() == typed.keys() and all(same_json(stored[k], typed[k]) for k in typed)
    if isinstance(stored, list) and isinstance(typed, list):
        return len(stored) == len(typed) and all(map(same_json, stored, typed))
    numbers = (int, float)
    if isinstance(stored, numbers) and isinstance(typed, numbers):
        if isinstance(stored, bool) or isinstance(typed, bool):
            return stored is typed
        return float(stored) == float(typed)
    return stored == typed


# --- Fuzz tests --------------------------------------------------------------------------------


def test_csv_uploads_previews_and_confirms_are_never_a_5xx(client):
    make_reference()
    staff(client, "importer", "import_workitems", "view_workitem")

    @FUZZ
    @given(raw=uploads)
    def run(raw):
        with transaction.atomic():
            response = client.post(
                reverse("admin:workitems_importbatch_add"),
                {"file": SimpleUploadedFile("drafts.csv", raw, "text/csv")},
            )
            answered(response)
            if response.status_code == 200:  # the upload form again: an empty file
                assert response.context["form"].errors
                return
            batch = ImportBatch.objects.latest("pk")
            answered(client.get(response.url))
            before = WorkItem.objects.count()
            answered(client.post(reverse("admin:workitems_importbatch_confirm", args=[batch.pk])))
            batch.refresh_from_db()
            created = WorkItem.objects.count() - before
            assert created == batch.created_count  # all or nothing
            if created:
                assert batch.state == ImportBatch.State.IMPORTED
            for item in WorkItem.objects.order_by("-pk")[:created]:
                assert isinstance(item.custom_fields, dict)
            transaction.set_rollback(True)  # each example starts from the same database

    run()


def test_custom_fields_in_the_admin_form_are_never_a_5xx(client):
    staff(client, "sup", "view_workitem", "add_workitem", "change_workitem")
    # A schema not fetched yet: the form offers its JSON box.
    worktype = factories.worktype(default_queue=factories.queue(), schema_id="sc-fuzz")

    @FUZZ
    @given(text=json_texts)
    def run(text):
        with transaction.atomic():
            response = client.post(
                reverse("admin:workitems_workitem_add"),
                {
                    "external_ref": "crm-fuzz",
                    "name": "Fuzzed",
                    "worktype": worktype.pk,
                    "custom_fields": text,
                },
            )
            answered(response)
            if response.status_code == 302:
                item = WorkItem.objects.get(external_ref="crm-fuzz")
                typed = json.loads(text) if text.strip() else None
                assert same_json(item.custom_fields, {} if typed is None else typed)
            else:
                assert response.status_code == 200
                assert response.context["adminform"].form.errors
                assert not WorkItem.objects.filter(external_ref="crm-fuzz").exists()
            transaction.set_rollback(True)

    run()


def test_typed_custom_fields_in_the_admin_form_are_never_a_5xx(client):
    """Whatever is typed into the inputs built from a worktype's schema: a saved item whose
    custom fields pass the schema check, or the form again with errors and nothing saved."""
    from simulator.demo import SCHEMAS
    from workitems.services.custom_fields import custom_fields_check, schema_fields

    staff(client, "sup", "view_workitem", "add_workitem", "change_workitem")
    json_schema = SCHEMAS[0][2]
    worktype = factories.worktype(
        default_queue=factories.queue(),
        schema_id="sc-refund",
        json_schema=json_schema,
        schema_fields=schema_fields(json_schema),
    )
    keys = list(json_schema["properties"])

    @FUZZ
    @given(values=st.fixed_dictionaries({key: st.text(max_size=30) for key in keys}))
    def run(values):
        with transaction.atomic():
            response = client.post(
                reverse("admin:workitems_workitem_add"),
                {
                    "external_ref": "crm-fuzz",
                    "name": "Fuzzed",
                    "worktype": worktype.pk,
                    **{f"cf__{key}": value for key, value in values.items()},
                },
            )
            answered(response)
            if response.status_code == 302:
                item = WorkItem.objects.get(external_ref="crm-fuzz")
                assert custom_fields_check(worktype=worktype, fields=item.custom_fields).ok
            else:
                assert response.status_code == 200
                assert response.context["adminform"].form.errors
                assert not WorkItem.objects.filter(external_ref="crm-fuzz").exists()
            transaction.set_rollback(True)

    run()
