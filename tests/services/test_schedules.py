import pytest
from django_q.models import Schedule

from workitems.services.schedules import portal_schedules, schedules_register

pytestmark = pytest.mark.django_db


def test_registering_twice_keeps_one_schedule_each_and_updates_their_interval(settings):
    first = schedules_register()
    assert all(created for _, created in first)
    settings.GENESYS_SYNC_MINUTES = 30
    second = schedules_register()
    assert not any(created for _, created in second)
    assert Schedule.objects.count() == len(portal_schedules())
    assert Schedule.objects.get(name="reference-data-sync").minutes == 30


def test_every_scheduled_function_exists():
    from importlib import import_module

    for spec in portal_schedules():
        module, name = spec.func.rsplit(".", 1)
        assert callable(getattr(import_module(module), name)), spec.func
