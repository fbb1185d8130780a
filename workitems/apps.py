from django.apps import AppConfig


class WorkitemsConfig(AppConfig):
    name = "workitems"
    verbose_name = "Work items"

    def ready(self) -> None:
        from workitems import checks, checks_ingest  # noqa: F401  (registers system checks)
