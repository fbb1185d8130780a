from django.conf import settings
from django.contrib import admin
from django.urls import NoReverseMatch, include, path, reverse
from django.utils.functional import lazy

admin.site.site_header = "Work Item Portal"
admin.site.site_title = "Work Item Portal"
admin.site.index_title = "Genesys Cloud work items"


# "View site" opens the supervisor dashboard (templates/admin/base_site.html shows it only to
# those with workitems.view_dashboard).
def _dashboard_url() -> str:
    try:
        return reverse("portal-dashboard")
    except NoReverseMatch:  # a URLconf without the dashboard (some tests)
        return "/"


admin.site.site_url = lazy(_dashboard_url, str)()

urlpatterns = [
    path("", include("portal.health_urls")),
    path("admin/dashboard/", include("workitems.dashboard_urls")),
    path("admin/", admin.site.urls),
    path("api/", include("workitems.api.urls")),
]

if settings.SIMULATOR_ENABLED:
    urlpatterns += [
        path("simulator/", include("simulator.urls")),
        # A stand-in for the fulfillment system: verifies signatures and logs what it gets.
        path("demo-receiver/", include("workitems.api.receiver_urls")),
    ]
