"""The supervisor raises the open files limit its Bokeh processes inherit: a viewer is a socket."""

import resource

import pytest

from bkruntime import supervisor


@pytest.fixture
def restored_limit():
    limits = resource.getrlimit(resource.RLIMIT_NOFILE)
    yield limits
    resource.setrlimit(resource.RLIMIT_NOFILE, limits)


def test_the_soft_limit_goes_up_to_the_hard_limit(restored_limit):
    _, hard = restored_limit
    if hard == resource.RLIM_INFINITY:
        hard = supervisor.UNLIMITED_OPEN_FILES
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), restored_limit[1]))
    assert supervisor.raise_open_file_limit() == hard
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == hard


def test_a_limit_that_cannot_be_raised_is_kept_and_said(monkeypatch, caplog):
    def refuse(*_):
        raise ValueError("not permitted")

    monkeypatch.setattr(resource, "getrlimit", lambda _: (100, 200))
    monkeypatch.setattr(resource, "setrlimit", refuse)
    assert supervisor.raise_open_file_limit() == 100
    assert "cannot raise the open files limit from 100 to 200" in caplog.text
