"""The audit list filtered by action and outcome together: an index on both, and on PostgreSQL
statistics of their combinations.

Without the statistics the planner multiplies the two columns' frequencies: a pair that never
occurs (actions that cannot fail) is estimated at thousands of rows, and the list's first page is
then read by walking occurred_at back through the whole table looking for them. The most-common-
values list of the pair tells it which pairs exist and how often (benchmarks/admin.py, the audit
list filtered by action and outcome at 5,000,000 rows).

SQLite (development, most tests): the index only.
"""

from django.db import migrations, models

STATISTICS = "audits_auditevent_action_outcome"
CREATE = f"CREATE STATISTICS IF NOT EXISTS {STATISTICS} (mcv) ON action, outcome FROM audits_auditevent"
DROP = f"DROP STATISTICS IF EXISTS {STATISTICS}"


def _on_postgresql(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("audits", "0003_chain_seals_and_manifests"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                fields=["action", "outcome", "occurred_at"], name="audit_action_outcome_time"
            ),
        ),
        migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP), elidable=False),
    ]
