from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The project as an app: its admin module restricts third-party admins (portal/admin.py),
    and its lock-out hooks connect here."""

    name = "portal"
    verbose_name = "Portal"

    def ready(self):
        from portal import login_lockout  # noqa: F401  (connects the lock-out audit)
