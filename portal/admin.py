"""Third-party admins that only superusers may open.

django-q2's admin runs work with no permission check of its own: "Resubmit selected tasks" puts
any stored task back on the queue (a full Genesys sync, audited as `system`) and deletes its
failure row, and a schedule names any function to run. django-axes's records hold usernames and
client addresses. Model permissions ("can view task", "can change schedule") are too easy to grant
in a role to stand between a supervisor and these, so every page and action of these apps asks for
a superuser instead. Supervisors run work through the portal's own, permission-checked actions.

Installed last in INSTALLED_APPS, so the admins registered by these apps exist to be replaced.
"""

from __future__ import annotations

from django.contrib import admin

SUPERUSER_ONLY_APPS = ("django_q", "axes")


class SuperuserOnlyAdmin:
    """Mixed in front of a ModelAdmin: nothing in it for anyone but an active superuser."""

    @staticmethod
    def _superuser(request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_module_permission(self, request):
        return self._superuser(request) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return self._superuser(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args, **kwargs):
        return self._superuser(request) and super().has_add_permission(request, *args, **kwargs)

    def has_change_permission(self, request, obj=None):
        return self._superuser(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._superuser(request) and super().has_delete_permission(request, obj)


def superuser_only(site: admin.AdminSite, app_labels=SUPERUSER_ONLY_APPS) -> list[str]:
    """Re-register every admin of these apps behind SuperuserOnlyAdmin; the labels replaced."""
    replaced = []
    for model, model_admin in list(site._registry.items()):
        if model._meta.app_label not in app_labels or isinstance(model_admin, SuperuserOnlyAdmin):
            continue
        base = type(model_admin)
        restricted = type(f"SuperuserOnly{base.__name__}", (SuperuserOnlyAdmin, base), {})
        site.unregister(model)
        site.register(model, restricted)
        replaced.append(model._meta.label)
    return replaced


superuser_only(admin.site)
