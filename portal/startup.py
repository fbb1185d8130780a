"""Start-up for manage.py and the WSGI server: a malformed setting ends the process with one line.

portal/settings.py raises ImproperlyConfigured naming the variable and what it must be; shown as
a traceback that line is buried under forty lines of Django's import machinery.
"""

from __future__ import annotations

import os
import sys

# Gunicorn's "worker failed to boot" code: the arbiter stops instead of restarting the worker.
EXIT_CONFIGURATION = 3


def load_settings_or_exit() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        settings.INSTALLED_APPS  # noqa: B018 -- the first access imports the settings module
    except ImproperlyConfigured as exc:
        message = " ".join(str(exc).split())
        sys.stderr.write(f"Configuration error: {message} (set it in the environment or in .env)\n")
        raise SystemExit(EXIT_CONFIGURATION) from None
