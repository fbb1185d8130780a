import pytest
from django.test import override_settings

SECRET_OLD = "old-ingest-secret-0123456789"
SECRET_NEW = "new-ingest-secret-9876543210"
BASIC = "genesys:basic-password-abcdef"


@pytest.fixture(autouse=True)
def ingest_credentials():
    with override_settings(INGEST_SECRETS=[SECRET_OLD, SECRET_NEW], INGEST_BASIC_AUTH=[BASIC]):
        yield
