"""`manage.py check` on the ingest credentials."""

from django.test import override_settings

from workitems.checks_ingest import ingest_credentials


@override_settings(INGEST_SECRETS=[], INGEST_BASIC_AUTH=[])
def test_no_credentials_at_all_is_a_warning():
    (problem,) = ingest_credentials(None)
    assert problem.id == "workitems.W020"
    assert "refuses every request" in problem.msg
    assert problem.hint


@override_settings(INGEST_SECRETS=[], INGEST_BASIC_AUTH=["genesys:pw", "no-colon-secret", "user:"])
def test_malformed_basic_entries_are_errors_naming_the_position_not_the_value():
    problems = ingest_credentials(None)
    assert [p.id for p in problems] == ["workitems.E020", "workitems.E020"]
    assert "#2" in problems[0].msg and "#3" in problems[1].msg
    assert all("no-colon-secret" not in p.msg + p.hint for p in problems)


@override_settings(INGEST_SECRETS=["s"], INGEST_BASIC_AUTH=[])
def test_a_secret_alone_is_fine():
    assert ingest_credentials(None) == []
