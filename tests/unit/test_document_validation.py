"""Bokeh's document checks: off in the server processes, run here on every app's document."""

import pytest
from bokeh.core.validation.check import check_integrity
from bokeh.settings import settings

from aperture.catalog import CATALOG
from aperture.session_token import token_payload
from bkruntime.server_process import VALIDATE_DOC_ENV, skip_document_validation
from tests.support.app_documents import KIT_APPS, ServedApp

ADMIN = {"name": "ada", "roles": ["admin"]}


@pytest.mark.parametrize("name", KIT_APPS)
def test_every_app_document_passes_bokehs_checks(name):
    app = ServedApp(CATALOG[name])
    session = app.open_with_token(token_payload({}, app=name, user=ADMIN))
    try:
        models = set().union(*(root.references() for root in session.document.roots))
        issues = check_integrity(models)
        assert issues.error == [] and issues.warning == []
    finally:
        app.close(session)


def test_server_processes_skip_the_checks_unless_asked(monkeypatch):
    monkeypatch.delenv(VALIDATE_DOC_ENV, raising=False)
    environ = {}
    skip_document_validation(environ)
    monkeypatch.setenv(VALIDATE_DOC_ENV, environ[VALIDATE_DOC_ENV])
    assert settings.perform_document_validation() is False

    asked = {VALIDATE_DOC_ENV: "true"}
    skip_document_validation(asked)
    assert asked[VALIDATE_DOC_ENV] == "true"
