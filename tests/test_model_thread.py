"""mapper.model_thread: whichever threads call, the models run on one, with the callers' context."""
import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from mapper.model_thread import on_model_thread

REQUEST = contextvars.ContextVar("request")


def test_calls_from_many_threads_run_on_one_thread_each_with_its_caller_s_context_and_answer():
    def work(value: int) -> tuple[int, int, str]:
        return threading.get_ident(), value * 2, REQUEST.get()

    run = on_model_thread(work)

    def call(value: int) -> tuple[int, int, str, int]:
        REQUEST.set(f"request {value}")
        return *run(value), threading.get_ident()

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(call, range(64)))
    assert len({thread for thread, *_ in results}) == 1  # every call on the one model thread
    assert len({caller for *_, caller in results}) > 1  # though many threads called
    assert [(doubled, request) for _, doubled, request, _ in results] == [(2 * i, f"request {i}") for i in range(64)]


def test_an_error_on_the_model_thread_reaches_the_caller_and_the_thread_serves_on():
    def fail(text: str) -> None:
        raise ValueError(f"please type some text, not {text!r}")

    with pytest.raises(ValueError, match="please type some text"):
        on_model_thread(fail)("")
    assert on_model_thread(lambda: "still serving")() == "still serving"


def test_a_forked_worker_gets_a_model_thread_of_its_own(monkeypatch):
    from mapper import model_thread

    monkeypatch.setattr(model_thread, "_executors", dict(model_thread._executors))
    parent = model_thread.model_thread()
    monkeypatch.setattr(model_thread.os, "getpid", lambda: -1)  # as in a child forked after the thread started
    child = model_thread.model_thread()
    assert child is not parent and on_model_thread(lambda: "answered")() == "answered"
    child.shutdown()
