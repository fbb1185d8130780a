from workitems.admin import reference, sla  # noqa: F401
