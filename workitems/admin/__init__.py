from workitems.admin import imports, reference, sla, workitem  # noqa: F401
