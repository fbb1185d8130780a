from django.conf import settings
from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Work Item Portal"
admin.site.site_title = "Work Item Portal"
admin.site.index_title = "Genesys Cloud work items"

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
