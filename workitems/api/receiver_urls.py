"""The demo downstream receiver; portal/urls.py mounts it at demo-receiver/ in simulator mode."""

from django.urls import path

from workitems.api.receiver import demo_receiver

urlpatterns = [path("", demo_receiver, name="demo-receiver")]
