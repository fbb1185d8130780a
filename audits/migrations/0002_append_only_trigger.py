"""Audit rows are append-only in PostgreSQL itself: a trigger rejects every UPDATE and DELETE of
audits_auditevent, whoever sends it (the ORM, a shell, psql), not only the admin.

TRUNCATE is not guarded by a trigger: Django's test runner empties every table with one TRUNCATE
after each transactional test, and nothing lets it switch a guard off first. Keep TRUNCATE (and
UPDATE, DELETE) away from the application's role with privileges instead: run migrations as the
table owner and the portal as a role granted only SELECT, INSERT on this table (docs/DEPLOY.md).
The table owner can always disable a trigger; the trigger stops mistakes and the application,
privileges stop people.

SQLite (development, most tests): nothing is created.
"""

from django.db import migrations

FUNCTION = "audits_auditevent_append_only"
TRIGGER = "audits_auditevent_append_only"

CREATE = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audits_auditevent is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation',
              HINT = 'Audit events are never changed or removed; record a new event instead.';
END;
$$;
DROP TRIGGER IF EXISTS {TRIGGER} ON audits_auditevent;
CREATE TRIGGER {TRIGGER}
    BEFORE UPDATE OR DELETE ON audits_auditevent
    FOR EACH ROW EXECUTE FUNCTION {FUNCTION}();
"""

DROP = f"""
DROP TRIGGER IF EXISTS {TRIGGER} ON audits_auditevent;
DROP FUNCTION IF EXISTS {FUNCTION}();
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("audits", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP), elidable=False),
    ]
