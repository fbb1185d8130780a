"""Mounted at admin/dashboard/ by portal/urls.py, ahead of the admin's own URLs."""

from django.urls import path

from workitems.views.dashboard import dashboard

urlpatterns = [
    path("", dashboard, name="portal-dashboard"),
]
