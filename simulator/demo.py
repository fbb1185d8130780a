"""The demo organisation: a believable contact centre to run the portal against.

`seed_demo_org()` is idempotent: fixed ids (uuid5 of a readable key) and fixed dates, so a second
run writes nothing. `IDS` maps readable keys ("queue:refunds") to the ids.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from django.db import transaction

from simulator import render, store

NAMESPACE = uuid.UUID("6f1c2d4e-5a3b-4c7d-9e8f-0a1b2c3d4e5f")
CREATED = "2025-01-06T09:00:00.000Z"
MODIFIED = "2025-03-03T14:30:00.000Z"
ADMIN_KEY = "user:org-admin"


def demo_id(key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, key))


DIVISION = {"key": "division:customer-operations", "name": "Customer Operations"}

SKILLS = [
    ("refunds", "Refunds", "active"),
    ("billing", "Billing disputes", "active"),
    ("claims", "Claims assessment", "active"),
    ("fraud", "Fraud review", "active"),
    ("spanish", "Spanish", "active"),
    ("french", "French", "active"),
    ("vip", "VIP handling", "active"),
    ("mainframe", "Legacy mainframe", "inactive"),
]

# (key, name, routing status, {skill: proficiency})
USERS = [
    ("amara-okafor", "Amara Okafor", "IDLE", {"refunds": 5, "billing": 3, "vip": 4}),
    ("ben-hartley", "Ben Hartley", "INTERACTING", {"refunds": 4, "spanish": 2}),
    ("chloe-dubois", "Chloé Dubois", "IDLE", {"refunds": 3, "french": 5}),
    ("daniel-reyes", "Daniel Reyes", "OFF_QUEUE", {"refunds": 2, "spanish": 5, "billing": 2}),
    ("eilidh-mackay", "Eilidh MacKay", "COMMUNICATING", {"refunds": 1, "fraud": 3}),
    ("farid-haddad", "Farid Haddad", "NOT_RESPONDING", {"billing": 4, "refunds": 0}),
    ("grace-lindqvist", "Grace Lindqvist", "IDLE", {"billing": 5, "vip": 3}),
    ("hiro-tanaka", "Hiro Tanaka", "INTERACTING", {"billing": 3, "fraud": 4}),
    ("isabel-moreno", "Isabel Moreno", "IDLE", {"billing": 2, "spanish": 4}),
    ("jonas-weber", "Jonas Weber", "OFF_QUEUE", {"billing": 1, "mainframe": 5}),
    ("kemi-adeyemi", "Kemi Adeyemi", "IDLE", {"claims": 5, "fraud": 2}),
    ("liam-oconnor", "Liam O'Connor", "INTERACTING", {"claims": 4, "vip": 2}),
    ("maya-patel", "Maya Patel", "COMMUNICATING", {"claims": 3, "french": 2}),
    ("noah-fischer", "Noah Fischer", "IDLE", {"claims": 2}),
    ("olivia-brennan", "Olivia Brennan", "NOT_RESPONDING", {"claims": 1, "spanish": 3}),
    ("pavel-novak", "Pavel Novák", "OFF_QUEUE", {"claims": 4, "mainframe": 3}),
    ("quinn-harper", "Quinn Harper", "IDLE", {"refunds": 5, "claims": 5, "fraud": 5, "vip": 5}),
    ("rosa-castillo", "Rosa Castillo", "INTERACTING", {"billing": 5, "claims": 3, "spanish": 5}),
    ("samir-khan", "Samir Khan", "OFF_QUEUE", {"fraud": 4, "refunds": 2}),
    ("tessa-vos", "Tessa Vos", "OFF_QUEUE", {"claims": 2, "french": 4}),
]

# (key, name, skill evaluation, description, [(user key, joined)])
QUEUES = [
    ("refunds", "Refunds", "BEST", "Refund requests from the web shop and the app.", [
        ("amara-okafor", True), ("ben-hartley", True), ("chloe-dubois", True),
        ("daniel-reyes", False), ("eilidh-mackay", True), ("farid-haddad", True),
        ("quinn-harper", True), ("samir-khan", False),
    ]),
    ("billing", "Billing", "ALL", "Invoices, direct debits and billing disputes.", [
        ("grace-lindqvist", True), ("hiro-tanaka", True), ("isabel-moreno", True),
        ("jonas-weber", False), ("farid-haddad", False), ("rosa-castillo", True),
    ]),
    ("claims-intake", "Claims Intake", "NONE", "First look at new insurance claims.", [
        ("kemi-adeyemi", True), ("liam-oconnor", True), ("maya-patel", True),
        ("noah-fischer", True), ("olivia-brennan", True), ("pavel-novak", False),
        ("tessa-vos", False),
    ]),
    ("escalations-l2", "Escalations L2", "BEST", "Second-line escalations needing a senior agent.", [
        ("quinn-harper", True), ("rosa-castillo", True), ("amara-okafor", False),
        ("hiro-tanaka", True),
    ]),
    ("weekend-overflow", "Weekend Overflow", "ALL", "Staffed at weekends only: nobody joined.", [
        ("daniel-reyes", False), ("jonas-weber", False), ("tessa-vos", False),
    ]),
]  # fmt: skip

WORKBINS = [
    ("refunds", "Refunds workbin", "Open refund requests."),
    ("claims", "Claims workbin", "Insurance claims in progress."),
    ("triage", "Triage workbin", "Items waiting to be sorted by a supervisor."),
]


def _field(core: str, title: str, description: str, **limits: Any) -> dict[str, Any]:
    return {
        "allOf": [{"$ref": f"#/definitions/{core}"}],
        "title": title,
        "description": description,
        **limits,
    }


def _json_schema(title: str, description: str, properties: dict, required: list[str]) -> dict:
    return {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": title,
        "description": description,
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": False,
    }


SCHEMAS = [
    (
        "refund-fields",
        "Refund request fields",
        _json_schema(
            "Refund request fields",
            "What a refund request carries from the web shop.",
            {
                "order_number_text": _field("text", "Order number", "Web shop order number", minLength=3, maxLength=20),
                "amount_number": _field("number", "Amount", "Amount to refund, in euros", minimum=0, maximum=10000),
                "currency_enum": _field("enum", "Currency", "ISO currency", enum=["EUR", "GBP", "USD"]),
                "vip_checkbox": _field("checkbox", "VIP customer", "Customer is in the VIP programme"),
                "purchase_date_date": _field("date", "Purchase date", "When the order was placed"),
                "reason_longtext": _field("longtext", "Reason", "Customer's reason", minLength=0, maxLength=1000),
            },
            ["order_number_text", "amount_number"],
        ),
    ),
    (
        "claim-fields",
        "Insurance claim fields",
        _json_schema(
            "Insurance claim fields",
            "What an insurance claim carries from the claims form.",
            {
                "policy_number_identifier": _field("identifier", "Policy number", "Policy the claim is under", minLength=5, maxLength=30),
                "claim_amount_number": _field("number", "Claimed amount", "Amount claimed, in euros", minimum=0, maximum=250000),
                "incident_datetime": _field("datetime", "Incident time", "When the incident happened"),
                "vehicles_involved_integer": _field("integer", "Vehicles involved", "Number of vehicles", minimum=0, maximum=20),
                "evidence_url": _field("url", "Evidence", "Link to photos or documents", minLength=0, maxLength=200),
                "urgent_checkbox": _field("checkbox", "Urgent", "Needs a same-day answer"),
                "labels_tag": _field("tag", "Labels", "Free labels", items={"minLength": 1, "maxLength": 50}, minItems=0, maxItems=10, uniqueItems=True),
            },
            ["policy_number_identifier"],
        ),
    ),
]  # fmt: skip

# (key, name, description, workbin, queue, schema, priority, assignment, due seconds, skills,
#  [(status key, name, category, [destinations], default destination, delay seconds, auto-terminate)],
#  default status)
WORKTYPES = [
    (
        "refund-request", "Refund request", "A customer asks for money back on an order.",
        "refunds", "refunds", "refund-fields", 10, True, 2 * 86400, ["refunds"],
        [
            ("new", "New", "Open", ["investigating", "rejected"], None, None, False),
            ("investigating", "Investigating", "InProgress", ["awaiting-customer", "refunded", "rejected"], None, None, False),
            ("awaiting-customer", "Awaiting customer", "Waiting", ["investigating", "rejected"], "rejected", 7 * 86400, False),
            ("refunded", "Refunded", "Closed", ["investigating"], None, None, False),
            ("rejected", "Rejected", "Closed", [], None, None, True),
        ],
        "new",
    ),
    (
        "insurance-claim", "Insurance claim", "A policy holder files a claim.",
        "claims", "claims-intake", "claim-fields", 5, False, 5 * 86400, ["claims"],
        [
            ("submitted", "Submitted", "Open", ["assessing", "denied"], None, None, False),
            ("assessing", "Assessing", "InProgress", ["pending-documents", "approved", "denied"], None, None, False),
            ("pending-documents", "Pending documents", "Waiting", ["assessing", "denied"], None, None, False),
            ("approved", "Approved", "Closed", [], None, None, True),
            ("denied", "Denied", "Closed", [], None, None, False),
        ],
        "submitted",
    ),
]  # fmt: skip


def _status_key(worktype: str, status: str) -> str:
    return f"status:{worktype}:{status}"


def ids() -> dict[str, str]:
    """Readable key → id for everything the demo org holds."""
    keys = [DIVISION["key"], ADMIN_KEY]
    keys += [f"skill:{k}" for k, *_ in SKILLS]
    keys += [f"user:{k}" for k, *_ in USERS]
    keys += [f"queue:{k}" for k, *_ in QUEUES]
    keys += [f"workbin:{k}" for k, *_ in WORKBINS]
    keys += [f"schema:{k}" for k, *_ in SCHEMAS]
    for wt in WORKTYPES:
        keys.append(f"worktype:{wt[0]}")
        keys += [_status_key(wt[0], s[0]) for s in wt[10]]
    return {key: demo_id(key) for key in keys}


IDS = ids()


def _email(name: str) -> str:
    local = name.lower().replace(" ", ".").replace("'", "")
    for accented, plain in (("é", "e"), ("á", "a")):
        local = local.replace(accented, plain)
    return f"{local}@example.com"


@transaction.atomic
def seed_demo_org() -> dict[str, Counter]:
    """Create or refresh the demo org. Returns kind → Counter(created/updated/unchanged)."""
    summary: dict[str, Counter] = {}

    def put(kind: str, key: str, data: dict, *, parent: str | None = None) -> None:
        outcome = store.put(kind, IDS[key], data, parent=parent)
        summary.setdefault(kind, Counter())[outcome] += 1

    division_id = IDS[DIVISION["key"]]
    admin_id = IDS[ADMIN_KEY]
    put(render.DIVISION, DIVISION["key"], {"name": DIVISION["name"]})

    for key, name, state in SKILLS:
        put(
            render.SKILL,
            f"skill:{key}",
            {"name": name, "state": state, "dateModified": MODIFIED, "version": 1},
        )

    put(
        render.USER,
        ADMIN_KEY,
        {
            "name": "Org Admin",
            "email": "org.admin@example.com",
            "divisionId": division_id,
            "title": "Administrator",
            "routingStatus": {"status": "OFF_QUEUE", "startTime": CREATED},
            "skills": [],
        },
    )
    for i, (key, name, status, skills) in enumerate(USERS):
        put(
            render.USER,
            f"user:{key}",
            {
                "name": name,
                "email": _email(name),
                "divisionId": division_id,
                "title": "Senior Agent" if len(skills) >= 3 else "Agent",
                "department": "Customer Operations",
                "state": "active",
                "routingStatus": {
                    "status": status,
                    "startTime": f"2025-03-03T{8 + i % 8:02d}:{(7 * i) % 60:02d}:00.000Z",
                },
                "skills": [
                    {"id": IDS[f"skill:{s}"], "proficiency": level} for s, level in skills.items()
                ],
            },
        )

    for key, name, method, description, members in QUEUES:
        queue_id = IDS[f"queue:{key}"]
        put(
            render.QUEUE,
            f"queue:{key}",
            {
                "name": name,
                "divisionId": division_id,
                "description": description,
                "dateCreated": CREATED,
                "dateModified": MODIFIED,
                "createdBy": admin_id,
                "modifiedBy": admin_id,
                "mediaSettings": {
                    media: {
                        "enableAutoAnswer": False,
                        "alertingTimeoutSeconds": 30 if media == "call" else 300,
                        "serviceLevel": {"percentage": 0.8, "durationMs": 20000},
                    }
                    for media in ("call", "callback", "chat", "email", "message")
                },
                "routingRules": [],
                "bullseye": {"rings": [{"expansionCriteria": [{"type": "TIMEOUT_SECONDS", "threshold": 15}]}, {}]},
                "acwSettings": {"wrapupPrompt": "OPTIONAL", "timeoutMs": 60000},
                "skillEvaluationMethod": method,
                "scoringMethod": "TimestampAndPriority",
                "lastAgentRoutingMode": "Disabled",
                "memberGroups": [],
                "enableTranscription": False,
                "enableAudioMonitoring": False,
                "enableManualAssignment": key == "escalations-l2",
                "autoAnswerOnly": True,
                "suppressInQueueCallRecording": True,
            },
        )  # fmt: skip
        for ring, (user_key, joined) in enumerate(members):
            user_id = IDS[f"user:{user_key}"]
            outcome = store.put(
                render.QUEUE_MEMBER,
                demo_id(f"member:{key}:{user_key}"),
                {
                    "queueId": queue_id,
                    "userId": user_id,
                    "joined": joined,
                    "ringNumber": 1 if ring < 4 else 2,
                    "memberBy": "user",
                },
                parent=queue_id,
            )
            summary.setdefault(render.QUEUE_MEMBER, Counter())[outcome] += 1

    for key, name, description in WORKBINS:
        put(
            render.WORKBIN,
            f"workbin:{key}",
            {
                "name": name,
                "description": description,
                "divisionId": division_id,
                "dateCreated": CREATED,
                "dateModified": MODIFIED,
                "modifiedBy": admin_id,
            },
        )

    for key, name, json_schema in SCHEMAS:
        put(
            render.SCHEMA,
            f"schema:{key}",
            {
                "name": name,
                "version": 1,
                "appliesTo": ["WORKITEM"],
                "enabled": True,
                "createdBy": admin_id,
                "dateCreated": CREATED,
                "jsonSchema": json_schema,
            },
        )

    for (
        key, name, description, workbin, queue, schema, priority, assignment, due, skills,
        statuses, default_status,
    ) in WORKTYPES:  # fmt: skip
        worktype_id = IDS[f"worktype:{key}"]
        put(
            render.WORKTYPE,
            f"worktype:{key}",
            {
                "name": name,
                "description": description,
                "divisionId": division_id,
                "defaultWorkbinId": IDS[f"workbin:{workbin}"],
                "defaultQueueId": IDS[f"queue:{queue}"],
                "defaultStatusId": IDS[_status_key(key, default_status)],
                "defaultPriority": priority,
                "defaultDueDurationSeconds": due,
                "defaultExpirationSeconds": 30 * 86400,
                "defaultDurationSeconds": 3600,
                "defaultTtlSeconds": 90 * 86400,
                "defaultSkillIds": [IDS[f"skill:{s}"] for s in skills],
                "assignmentEnabled": assignment,
                "schemaId": IDS[f"schema:{schema}"],
                "schemaVersion": 1,
                "serviceLevelTarget": 100,
                "unassignedDivisionContactsEnabled": True,
                "dateCreated": CREATED,
                "dateModified": MODIFIED,
                "modifiedBy": admin_id,
            },
        )
        for s_key, s_name, category, destinations, default_dest, delay, terminate in statuses:
            put(
                render.STATUS,
                _status_key(key, s_key),
                {
                    "worktypeId": worktype_id,
                    "name": s_name,
                    "category": category,
                    "description": f"{name}: {s_name.lower()}.",
                    "destinationStatusIds": [IDS[_status_key(key, d)] for d in destinations],
                    "defaultDestinationStatusId": (
                        IDS[_status_key(key, default_dest)] if default_dest else None
                    ),
                    "statusTransitionDelaySeconds": delay,
                    "autoTerminateWorkitem": terminate,
                },
                parent=worktype_id,
            )
    return summary
