"""Gradio's REST routes answering as a curl user expects: ASGI middleware in front of the app.

`POST /gradio_api/call/<endpoint> {"data": [...]}` is the call Spaces document; Gradio 6.31 hands its values to
the event as they come. With fewer values than the endpoint has parameters the event fails inside the queue, the
event stream says only `{"error": null}` and the server logs a stack trace; with more, the extra ones are dropped
without a word; `POST /gradio_api/call/v2/<endpoint>` (named values) answers an unknown name with a bare 500.
Here, before Gradio sees the call, trailing values left out get the defaults the API publishes (those
gradio_client sends), and a call that leaves out a value without a default, sends too many or names a parameter
that does not exist is answered 422 with a message naming it. The values themselves are the handler's to check.
"""
from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import gradio as gr
from starlette.responses import JSONResponse

API_PREFIX = "/gradio_api"
# Accepted by /call/v2 beside the parameters, for endpoints that take an OAuth token.
V2_EXTRA_NAMES = {"oauth_token"}
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class CallError(ValueError):
    """A REST call that cannot be answered as it stands; the message says what to send."""


@dataclass(frozen=True)
class Parameter:
    name: str
    has_default: bool
    default: Any = None

    def __str__(self) -> str:
        return f"{self.name}={json.dumps(self.default)}" if self.has_default else self.name


@dataclass(frozen=True)
class Endpoint:
    name: str  # "/generate"
    parameters: tuple[Parameter, ...]

    def signature(self) -> str:
        return f"{self.name} takes [{', '.join(map(str, self.parameters))}]"

    def completed_values(self, values: list) -> list:
        """`values` with the trailing parameters they leave out set to their defaults."""
        if len(values) > len(self.parameters):
            raise CallError(f"{self.signature()}: {len(self.parameters)} values at most, got {len(values)}")
        if missing := [p.name for p in self.parameters[len(values):] if not p.has_default]:
            raise CallError(f"{self.signature()}: no value for {', '.join(missing)}, which has no default")
        return values + [p.default for p in self.parameters[len(values):]]

    def check_names(self, names: list[str]) -> None:
        """Refuse names that are not parameters, and leave out none without a default (Gradio fills the rest)."""
        known = {p.name for p in self.parameters}
        if unknown := [n for n in names if n not in known | V2_EXTRA_NAMES]:
            raise CallError(f"{self.signature()}: no parameter named {', '.join(map(repr, unknown))}")
        if missing := [p.name for p in self.parameters if not p.has_default and p.name not in names]:
            raise CallError(f"{self.signature()}: no value for {', '.join(missing)}, which has no default")


def endpoints(demo: gr.Blocks) -> dict[str, Endpoint]:
    """The app's named endpoints, with the parameters and defaults its API page and gradio_client show."""
    return {
        name: Endpoint(name, tuple(
            Parameter(p["parameter_name"], p["parameter_has_default"], p.get("parameter_default"))
            for p in info["parameters"]
        ))
        for name, info in demo.get_api_info()["named_endpoints"].items()
    }


def completed_body(body: bytes, endpoint: Endpoint, named: bool) -> bytes:
    """The body of a /call (or, `named`, a /call/v2) request, completed with defaults; CallError if it cannot
    be. A body that is not the JSON object Gradio expects is left for Gradio to refuse (it names the field)."""
    try:
        payload = json.loads(body)
    except ValueError:
        return body
    if not isinstance(payload, dict):
        return body
    if named:
        endpoint.check_names(list(payload))
        return body
    if not isinstance(payload.get("data"), list):
        return body
    return json.dumps({**payload, "data": endpoint.completed_values(payload["data"])}).encode()


class CompleteRestCalls:
    """ASGI middleware completing or refusing, with a message, the REST calls of `endpoints` (see the module)."""

    def __init__(self, app: ASGIApp, endpoints: dict[str, Endpoint]):
        self.app = app
        self.routes: dict[str, tuple[Endpoint, bool]] = {}
        for name, endpoint in endpoints.items():
            self.routes[f"{API_PREFIX}/call{name}"] = endpoint, False
            self.routes[f"{API_PREFIX}/call/v2{name}"] = endpoint, True

    def route(self, scope: Scope) -> tuple[Endpoint, bool] | None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return None
        path = scope["path"].rstrip("/")
        return next((route for suffix, route in self.routes.items() if path.endswith(suffix)), None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (route := self.route(scope)) is None:
            return await self.app(scope, receive, send)
        body = await read_body(receive)
        try:
            body = completed_body(body, *route)
        except CallError as err:
            return await JSONResponse({"detail": str(err)}, status_code=422)(scope, receive, send)
        headers = [(k, v) for k, v in scope["headers"] if k != b"content-length"]
        scope = {**scope, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
        await self.app(scope, replayed(body, receive), send)


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def replayed(body: bytes, receive: Receive) -> Receive:
    """A receive channel giving `body` once, then whatever the client sends next (its disconnect)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive_again() -> Message:
        return pending.pop() if pending else await receive()

    return receive_again
