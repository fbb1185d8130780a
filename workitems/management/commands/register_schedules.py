from django.core.management.base import BaseCommand

from workitems.services.schedules import schedules_register


class Command(BaseCommand):
    help = "Create or update the portal's django-q2 schedules (idempotent)."

    def handle(self, *args, **options):
        for name, created in schedules_register():
            self.stdout.write(f"{'created' if created else 'updated'} schedule {name}")
