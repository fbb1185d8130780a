"""Writing many rows' own values back in one statement: UPDATE … FROM (VALUES …).

Django's bulk_update builds a CASE WHEN id = … THEN … per field and row: its SQL grows with rows ×
fields and compiling it costs more than the work it saves. On PostgreSQL we send the rows as a
VALUES list joined on the primary key instead (each value cast to its column's type, since VALUES
guesses types from literals); elsewhere (SQLite) bulk_update is used as is.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection
from django.db.models import Model

CHUNK = 1000


def rows_update(model: type[Model], objs: Sequence[Model], fields: Sequence[str]) -> int:
    """Write `fields` of each (saved) object to its row; returns the rows matched."""
    if not objs or not fields:
        return 0
    if connection.vendor != "postgresql":
        return model.objects.bulk_update(objs, fields, batch_size=500)
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    pk = meta.pk
    quote = connection.ops.quote_name
    names = ", ".join(quote(f.column) for f in (pk, *columns))
    assignments = ", ".join(
        f"{quote(f.column)} = v.{quote(f.column)}::{f.db_type(connection)}" for f in columns
    )
    row_sql = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
    matched = 0
    with connection.cursor() as cursor:
        for start in range(0, len(objs), CHUNK):
            chunk = objs[start : start + CHUNK]
            params: list = []
            for obj in chunk:
                params.append(obj.pk)
                params.extend(
                    f.get_db_prep_save(getattr(obj, f.attname), connection) for f in columns
                )
            cursor.execute(
                f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "
                f"FROM (VALUES {', '.join([row_sql] * len(chunk))}) AS v({names}) "
                f"WHERE t.{quote(pk.column)} = v.{quote(pk.column)}::{pk.db_type(connection)}",
                params,
            )
            matched += cursor.rowcount
    return matched
