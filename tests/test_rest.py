"""mapper.rest's middleware in front of an app that echoes the body it receives (the served app: test_app)."""
import json

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from mapper.rest import CompleteRestCalls, Endpoint, Parameter

GENERATE = Endpoint(
    "/generate", (Parameter("text", False), Parameter("truncation", True, 0.4), Parameter("seed", True, -1))
)


async def echo(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse({"body": body.decode(), "content_length": request.headers.get("content-length", "0")})


@pytest.fixture
def client() -> TestClient:
    app = Starlette(routes=[Route("/{path:path}", echo, methods=["GET", "POST"])])
    return TestClient(CompleteRestCalls(app, {"/generate": GENERATE}))


def received(response) -> tuple[dict | str, int]:
    echoed = response.json()
    return echoed["body"], int(echoed["content_length"])


@pytest.mark.parametrize(
    "path", ["/gradio_api/call/generate", "/gradio_api/call/generate/", "/space/gradio_api/call/generate"]
)
def test_left_out_values_get_the_defaults_and_the_rest_of_the_body_stays(client, path):
    body, length = received(client.post(path, json={"data": ["a cat"], "session_hash": "abc"}))
    assert json.loads(body) == {"data": ["a cat", 0.4, -1], "session_hash": "abc"} and length == len(body)
    body, _ = received(client.post(path, json={"data": ["a cat", 0.9]}))
    assert json.loads(body)["data"] == ["a cat", 0.9, -1]


def test_calls_that_cannot_be_completed_are_refused_naming_why(client):
    signature = "/generate takes [text, truncation=0.4, seed=-1]"
    for path, payload, why in [
        ("call/generate", {"data": ["a", 0.4, 1, 2]}, "3 values at most, got 4"),
        ("call/generate", {"data": []}, "no value for text, which has no default"),
        ("call/v2/generate", {"seed": 1}, "no value for text, which has no default"),
        ("call/v2/generate", {"text": "a", "steps": 1, "cfg": 2}, "no parameter named 'steps', 'cfg'"),
    ]:
        response = client.post(f"/gradio_api/{path}", json=payload)
        assert response.status_code == 422 and response.json() == {"detail": f"{signature}: {why}"}


def test_everything_else_passes_untouched(client):
    for path, content in [
        ("/gradio_api/call/generate", b"not json"),  # Gradio answers these itself, naming the field
        ("/gradio_api/call/generate", b'{"data": "a cat"}'),
        ("/gradio_api/call/v2/generate", b'{"text": "a", "seed": 3}'),  # complete: Gradio fills the defaults
        ("/gradio_api/call/other", b'{"data": []}'),
        ("/gradio_api/queue/join", b'{"data": ["a"]}'),
    ]:
        assert received(client.post(path, content=content)) == (content.decode(), len(content))
    assert client.get("/gradio_api/call/generate").status_code == 200
