from workitems.admin import deliveries, imports, reference, sla, workitem  # noqa: F401
