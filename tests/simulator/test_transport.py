"""The in-process requests transport: what goes in and what comes back."""

from __future__ import annotations

import json

import pytest
import requests
from django.http import JsonResponse
from django.test import override_settings
from django.urls import path

from simulator.transport import InProcessTransport, base_prefix


def echo(request, rest=""):
    return JsonResponse(
        {
            "method": request.method,
            "path": request.path,
            "query": request.GET.dict(),
            "authorization": request.headers.get("Authorization"),
            "custom": request.headers.get("X-Custom"),
            "content_type": request.content_type,
            "body": request.body.decode(),
            "host": request.get_host(),
        },
        headers={"X-Echo": "yes"},
    )


def boom(request):
    raise RuntimeError("view failed")


urlpatterns = [path("echo/<path:rest>", echo), path("boom", boom)]


@pytest.fixture
def session():
    s = requests.Session()
    s.mount("http://simulator.test/", InProcessTransport())
    return s


@override_settings(ROOT_URLCONF=__name__)
def test_method_path_query_headers_and_body_reach_the_view(session):
    response = session.patch(
        "http://simulator.test/echo/a%20b",
        params={"x": "1"},
        json={"k": "v"},
        headers={"Authorization": "Bearer abc", "X-Custom": "c"},
    )

    assert response.status_code == 200
    seen = response.json()
    assert seen["method"] == "PATCH"
    assert seen["path"] == "/echo/a b"
    assert seen["query"] == {"x": "1"}
    assert seen["authorization"] == "Bearer abc"
    assert seen["custom"] == "c"
    assert seen["content_type"] == "application/json"
    assert json.loads(seen["body"]) == {"k": "v"}
    assert seen["host"] == "simulator.test"


@override_settings(ROOT_URLCONF=__name__)
def test_answer_is_a_real_requests_response(session):
    response = session.get("http://simulator.test/echo/x")

    assert response.headers["X-Echo"] == "yes"
    assert response.headers["content-type"] == "application/json"
    assert response.url == "http://simulator.test/echo/x"
    assert response.request.method == "GET"
    assert response.ok and response.reason == "OK"
    assert int(response.headers["Content-Length"]) == len(response.content)


@override_settings(ROOT_URLCONF=__name__)
def test_a_failing_view_is_a_500_or_raises_when_asked(session):
    assert session.get("http://simulator.test/boom").status_code == 500

    strict = requests.Session()
    strict.mount("http://simulator.test/", InProcessTransport(raise_exceptions=True))
    with pytest.raises(RuntimeError, match="view failed"):
        strict.get("http://simulator.test/boom")


def test_base_prefix_is_scheme_and_host():
    assert base_prefix("https://sim.example:8443/simulator") == "https://sim.example:8443/"
    with pytest.raises(ValueError):
        base_prefix("/simulator")
