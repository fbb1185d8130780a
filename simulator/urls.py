"""The simulator's routes, mounted at /simulator/ (portal/urls.py) when GENESYS_REGION=simulator.

Work-item routes that change an item go through views/workitem_events.py, which adds the event
Genesys would emit (delivered to the portal where a trigger matches).

SIMULATOR_BASE_URL ends in /simulator, so the portal's client calls {base}/oauth/token and
{base}/api/v2/…, just as it calls a real login host and API host.
"""

from django.urls import path, re_path

from simulator.views import (
    fallback,
    oauth,
    routing,
    schemas,
    taskmanagement,
    triggers,
    users,
    workitem_events,
)

app_name = "simulator"

TM = "api/v2/taskmanagement"
PA = "api/v2/processautomation"

urlpatterns = [
    path("oauth/token", oauth.token, name="token"),
    # Routing
    path("api/v2/routing/queues", routing.queues, name="queues"),
    path("api/v2/routing/queues/<str:queue_id>", routing.queue, name="queue"),
    path("api/v2/routing/queues/<str:queue_id>/members", routing.members, name="queue-members"),
    path("api/v2/routing/skills", routing.skills, name="skills"),
    path("api/v2/routing/skills/<str:skill_id>", routing.skill, name="skill"),
    # Users
    path("api/v2/users/<str:user_id>/routingskills", users.routing_skills, name="user-skills"),
    path("api/v2/users/<str:user_id>/routingstatus", users.routing_status, name="user-status"),
    # Task Management reference data
    path(f"{TM}/worktypes/query", taskmanagement.worktypes_query, name="worktypes-query"),
    path(f"{TM}/worktypes/<str:worktype_id>", taskmanagement.worktype, name="worktype"),
    path(f"{TM}/worktypes/<str:worktype_id>/statuses", taskmanagement.statuses, name="statuses"),
    path(
        f"{TM}/worktypes/<str:worktype_id>/statuses/<str:status_id>",
        taskmanagement.status,
        name="status",
    ),
    path(f"{TM}/workbins/query", taskmanagement.workbins_query, name="workbins-query"),
    path(f"{TM}/workbins/<str:workbin_id>", taskmanagement.workbin, name="workbin"),
    # Custom-field schemas (before workitems/<id>, which would take "schemas" for an id)
    path(f"{TM}/workitems/schemas", schemas.schemas, name="schemas"),
    path(f"{TM}/workitems/schemas/<str:schema_id>", schemas.schema, name="schema"),
    path(
        f"{TM}/workitems/schemas/<str:schema_id>/versions",
        schemas.versions,
        name="schema-versions",
    ),
    path(
        f"{TM}/workitems/schemas/<str:schema_id>/versions/<str:version_id>",
        schemas.version,
        name="schema-version",
    ),
    # Work items
    path(f"{TM}/workitems", workitem_events.workitems, name="workitems"),
    path(f"{TM}/workitems/query", workitem_events.workitems_query, name="workitems-query"),
    path(f"{TM}/workitems/bulk/add/jobs", workitem_events.bulk_add_jobs, name="bulk-add-jobs"),
    path(
        f"{TM}/workitems/bulk/add/jobs/<str:job_id>",
        workitem_events.bulk_add_job,
        name="bulk-add-job",
    ),
    path(
        f"{TM}/workitems/bulk/add/jobs/<str:job_id>/results",
        workitem_events.bulk_add_job_results,
        name="bulk-add-job-results",
    ),
    path(f"{TM}/workitems/<str:workitem_id>", workitem_events.workitem, name="workitem"),
    path(
        f"{TM}/workitems/<str:workitem_id>/terminate",
        workitem_events.workitem_terminate_view,
        name="workitem-terminate",
    ),
    # Process Automation triggers
    path(f"{PA}/triggers", triggers.triggers_view, name="triggers"),
    path(f"{PA}/triggers/topics", triggers.topics_view, name="trigger-topics"),
    path(f"{PA}/triggers/<str:trigger_id>", triggers.trigger_view, name="trigger"),
    path(f"{PA}/triggers/<str:trigger_id>/test", triggers.trigger_test_view, name="trigger-test"),
    re_path(r"^api/v2/(?P<rest>.*)$", fallback.unknown, name="unknown"),
]
