"""Test settings: the environment the suite runs under, then the real settings."""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("GENESYS_REGION", "simulator")
os.environ.setdefault("SIMULATOR_BASE_URL", "http://simulator.test/simulator")
os.environ.setdefault("GENESYS_CLIENT_ID", "portal-test-client")
os.environ.setdefault("GENESYS_CLIENT_SECRET", "portal-test-client-secret")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1,simulator.test")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")

from portal.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
SUBMIT_LOOKUP_DELAY_SECONDS = 0
SUBMIT_JOB_POLL_SECONDS = 0
SIMULATOR_BULK_JOB_SECONDS = 0  # the suite's clock does not move while the portal polls
SILENCED_SYSTEM_CHECKS = ["workitems.W003"]  # the suite runs the simulator with DEBUG off
# Serve static files from the apps in tests, as runserver does; no collectstatic needed.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
