"""The HTTP response parser (fed byte by byte and in bulk) and the loopback-only rule."""

from __future__ import annotations

import pytest

from loadgen.api import Api, Targets
from loadgen.cli import main
from loadgen.safety import NotLoopback, require_loopback
from loadgen.stats import Recorder
from loadgen.wire import ProtocolError, ResponseParser

FIXED = b'HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 13\r\n\r\n{"code":"X1"}'
CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n[1,2\r\n3;ext=1\r\n,3]\r\n0\r\n\r\n"


def test_fixed_length_and_chunked_responses_in_one_buffer() -> None:
    responses = ResponseParser().feed(FIXED + CHUNKED + b"HTTP/1.1 204 No Content\r\nserver: x\r\n\r\n")
    assert [(r.status, r.body) for r in responses] == [(201, b'{"code":"X1"}'), (200, b"[1,2,3]"), (204, b"")]
    assert responses[0].json() == {"code": "X1"} and responses[1].headers["transfer-encoding"] == "chunked"


@pytest.mark.parametrize("message", [FIXED, CHUNKED, CHUNKED.replace(b"0\r\n\r\n", b"0\r\nx-t: 1\r\n\r\n")])
def test_responses_split_at_every_byte_come_out_once_and_whole(message: bytes) -> None:
    parser = ResponseParser()
    got = []
    for i in range(len(message)):
        got += parser.feed(message[i : i + 1])
    assert len(got) == 1 and got[0].body in (b'{"code":"X1"}', b"[1,2,3]")
    assert parser.feed(b"") == []


def test_malformed_answers_are_protocol_errors() -> None:
    with pytest.raises(ProtocolError):
        ResponseParser().feed(b"SMTP ready\r\n\r\n")
    with pytest.raises(ProtocolError):
        ResponseParser().feed(b"HTTP/1.1 200 OK\r\n\r\n")  # no length: this client cannot delimit it


@pytest.mark.parametrize(
    ("url", "expected"),
    [("http://127.0.0.1:8001", ("127.0.0.1", 8001)), ("http://localhost:9", ("127.0.0.1", 9)),
     ("http://[::1]:80", ("::1", 80))],
)  # fmt: skip
def test_loopback_targets_are_accepted(url: str, expected: tuple[str, int]) -> None:
    assert require_loopback(url) == expected


async def test_every_client_connects_to_the_loopback_address_not_to_localhost() -> None:
    """The check connected the submissions to 127.0.0.1, but the officials', citizens' and httpx
    clients went to 'localhost', wherever the resolver sent it."""
    targets = Targets("http://localhost:8001", "http://LOCALHOST:8002/", "http://[::1]:8004")
    assert (targets.intake, targets.workflow, targets.reporting) == (
        "http://127.0.0.1:8001", "http://127.0.0.1:8002/", "http://[::1]:8004",
    )  # fmt: skip
    async with Api(targets, Recorder(), concurrency=1) as api:
        assert {str(c.base_url) for c in api._http.values()} == {
            "http://127.0.0.1:8001", "http://127.0.0.1:8002/", "http://[::1]:8004",
        }  # fmt: skip


@pytest.mark.parametrize(
    "url", ["http://10.0.0.5:8001", "http://example.com:80", "https://127.0.0.1:8001", "http://127.0.0.1",
            "http://127.0.0.2:8001", "http://0.0.0.0:8001", "http://127.0.0.1:9092,10.0.0.5:9092",
            "http://127.0.0.1:kafka"],
)  # fmt: skip
def test_anything_else_is_refused(url: str) -> None:
    with pytest.raises(NotLoopback):
        require_loopback(url)


def test_a_broker_elsewhere_is_refused_before_anything_is_sent(capsys: pytest.CaptureFixture[str]) -> None:
    """Checked only once the run had begun (after seeding the population), it came out as a traceback."""
    assert main(["--kafka", "10.0.0.5:9092,127.0.0.1:9092", "--population", "none", "--duration", "1"]) == 2
    assert "one host:port on 127.0.0.1" in capsys.readouterr().err
    assert main(["--kafka", "10.0.0.5:9092", "--population", "none", "--duration", "1"]) == 2
    assert "refusing to send load anywhere but 127.0.0.1" in capsys.readouterr().err
