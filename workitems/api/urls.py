from django.urls import path, re_path

from workitems.api.views import GenesysEventsView

urlpatterns = [
    path("genesys/events/", GenesysEventsView.as_view(), name="genesys-events"),
    # Senders configured without the trailing slash must not hit APPEND_SLASH's redirect.
    re_path(r"^genesys/events$", GenesysEventsView.as_view()),
]
