"""The only way audit events are written: record() and record_many(), each also a JSON log line."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone

from audits.models import AuditEvent, Outcome

logger = logging.getLogger("audit")

_SECRET_KEY_PARTS = ("secret", "password", "token", "authorization", "signing", "credential")
REDACTED = "[redacted]"


@dataclass(frozen=True, kw_only=True)
class AuditEntry:
    actor: str
    action: str
    object_type: str = ""
    object_id: str = ""
    correlation_id: str = ""
    outcome: str = Outcome.SUCCESS
    context: Mapping[str, Any] = field(default_factory=dict)


def configured_secrets() -> list[str]:
    """Every secret the portal is configured with, so no audit row or log line can hold one."""
    values = [
        settings.SECRET_KEY,
        settings.GENESYS_CLIENT_SECRET,
        # Several, comma-separated, during a rotation.
        *settings.DOWNSTREAM_SIGNING_SECRET.split(","),
        *settings.INGEST_SECRETS,
        *(pair.partition(":")[2] for pair in settings.INGEST_BASIC_AUTH),
    ]
    # The Basic credentials built from them, in case a peer echoes an Authorization header back.
    pairs = [
        f"{settings.GENESYS_CLIENT_ID}:{settings.GENESYS_CLIENT_SECRET}",
        *settings.INGEST_BASIC_AUTH,
    ]
    values += [base64.b64encode(p.encode()).decode() for p in pairs if p.partition(":")[2]]
    return [v for v in values if v and len(v) >= 4]


def scrub(value: Any, secrets: list[str] | None = None) -> Any:
    """Drop secret-looking keys and mask configured secret values anywhere in the structure."""
    secrets = configured_secrets() if secrets is None else secrets
    if isinstance(value, Mapping):
        return {
            str(k): REDACTED
            if any(part in str(k).lower() for part in _SECRET_KEY_PARTS)
            else scrub(v, secrets)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(v, secrets) for v in value]
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value
    return value


def _build(entry: AuditEntry, now, secrets: list[str]) -> AuditEvent:
    return AuditEvent(
        occurred_at=now,
        actor=str(entry.actor)[:150],
        action=entry.action,
        object_type=entry.object_type,
        object_id=str(entry.object_id)[:100],
        correlation_id=str(entry.correlation_id)[:200],
        outcome=entry.outcome,
        context=scrub(dict(entry.context), secrets),
    )


def _log(event: AuditEvent) -> None:
    logger.info(
        event.action,
        extra={
            "audit": {
                "id": event.pk,
                "occurred_at": event.occurred_at.isoformat(),
                "actor": event.actor,
                "action": event.action,
                "object_type": event.object_type,
                "object_id": event.object_id,
                "correlation_id": event.correlation_id,
                "outcome": event.outcome,
                "context": event.context,
            }
        },
    )


def record(
    *,
    actor: str,
    action: str,
    object_type: str = "",
    object_id: str = "",
    correlation_id: str = "",
    outcome: str = Outcome.SUCCESS,
    context: Mapping[str, Any] | None = None,
) -> AuditEvent:
    return record_entry(
        AuditEntry(
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            correlation_id=correlation_id,
            outcome=outcome,
            context=context or {},
        )
    )


def record_entry(entry: AuditEntry) -> AuditEvent:
    """Write one event built elsewhere (e.g. workitems.services.item_audit.item_entry)."""
    event = _build(entry, timezone.now(), configured_secrets())
    event.save(force_insert=True)
    _log(event)
    return event


def record_many(entries: Iterable[AuditEntry], *, batch_size: int = 2000) -> int:
    """Write many events in bulk (sweeps, imports); returns how many were written."""
    now = timezone.now()
    secrets = configured_secrets()
    events = [_build(entry, now, secrets) for entry in entries]
    AuditEvent.objects.bulk_create(events, batch_size=batch_size)
    for event in events:
        _log(event)
    return len(events)


def actor_for(user) -> str:
    """The actor string for a request's user."""
    if user is None or not getattr(user, "is_authenticated", False):
        return "anonymous"
    return user.get_username()
