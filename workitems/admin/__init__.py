from workitems.admin import reference, workitem  # noqa: F401
