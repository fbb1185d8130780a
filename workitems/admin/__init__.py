from workitems.admin import reference  # noqa: F401
