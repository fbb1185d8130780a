from workitems.admin import (  # noqa: F401
    deliveries,
    events,
    imports,
    reference,
    sla,
    subscriptions,
    workitem,
)
