"""Fault injection for the handler's DynamoDB client, and Lambda's retry/dead-letter path.

Faults are injected with a botocore ``before-send`` hook on the client under test, so the
handler's code and its retry configuration run unchanged:

- ``throughput-exceeded``: HTTP 400 ProvisionedThroughputExceededException (throttling);
- ``throttling``: HTTP 400 ThrottlingException (throttling);
- ``server-error``: HTTP 500 InternalServerError;
- ``connect-timeout``: ConnectTimeoutError; the request never reached DynamoDB;
- ``read-timeout``: the request *is* sent to DynamoDB Local and applied there, then the
  client sees ReadTimeoutError instead of the answer (a lost response). This is the fault
  that could half-apply a read-then-write; for one conditional PutItem it is harmless.

Whether a send is faulted is decided from (seed, delivery, Lambda attempt, send number),
so a run is reproducible whatever the thread schedule.

``invoke_like_lambda`` models asynchronous invocation: an invocation that raises is retried
up to ``lambda_retries`` times (bench.local.LAMBDA_RETRIES, the module's default), then the
event goes to the dead-letter list, which is what the dead-letter queue would receive.
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import botocore.endpoint
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError
from botocore.httpsession import URLLib3Session

from bench.stream import Stream, key_of

THROUGHPUT_EXCEEDED = "throughput-exceeded"
THROTTLING = "throttling"
SERVER_ERROR = "server-error"
CONNECT_TIMEOUT = "connect-timeout"
READ_TIMEOUT = "read-timeout"
KINDS = (THROUGHPUT_EXCEEDED, THROTTLING, SERVER_ERROR, CONNECT_TIMEOUT, READ_TIMEOUT)
THROTTLING_KINDS = frozenset({THROUGHPUT_EXCEEDED, THROTTLING})

_ERROR_RESPONSES = {
    THROUGHPUT_EXCEEDED: (
        400,
        "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded.",
    ),
    THROTTLING: (
        400,
        "com.amazon.coral.availability#ThrottlingException",
        "Rate of requests exceeds the allowed throughput.",
    ),
    SERVER_ERROR: (
        500,
        "com.amazonaws.dynamodb.v20120810#InternalServerError",
        "Internal server error",
    ),
}


class _RecordingClock:
    """Stands in for botocore.endpoint's `time` module: retry pauses are recorded, not slept."""

    def __init__(self):
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@contextlib.contextmanager
def recorded_backoff() -> Iterator[list[float]]:
    """Record the pauses botocore's retry handler asks for instead of sleeping them.

    botocore computes the pause and then calls ``time.sleep`` in botocore.endpoint; only that
    call is replaced, for every client in the process, while the block runs.
    """
    clock = _RecordingClock()
    original = botocore.endpoint.time
    botocore.endpoint.time = clock
    try:
        yield clock.sleeps
    finally:
        botocore.endpoint.time = original


class _Body:
    """The raw-stream interface AWSResponse reads its content from."""

    def __init__(self, data: bytes):
        self._data = data

    def stream(self, **_: Any):
        yield self._data


def error_response(kind: str, url: str) -> AWSResponse:
    status, error_type, message = _ERROR_RESPONSES[kind]
    body = json.dumps({"__type": error_type, "message": message}).encode()
    headers = {
        "x-amzn-RequestId": f"injected-{kind}",
        "Content-Type": "application/x-amz-json-1.0",
        "Content-Length": str(len(body)),
    }
    return AWSResponse(url, status, headers, _Body(body))


@dataclass
class Send:
    """One HTTP request the client tried to send during an invocation."""

    at: float  # time.monotonic()
    fault: str | None
    reached_dynamodb: bool = False
    applied: bool = False  # DynamoDB accepted the write (whatever the client then saw)


@dataclass
class Invocation:
    delivery: int
    attempt: int  # 0 = first invocation, then Lambda's retries
    arn: str
    version: int
    sends: list[Send] = field(default_factory=list)
    outcome: str | None = None
    error: str | None = None

    @property
    def delays(self) -> list[tuple[str | None, float]]:
        """(fault that caused the retry, seconds until the next send) for each retry."""
        return [
            (before.fault, after.at - before.at)
            for before, after in zip(self.sends, self.sends[1:], strict=False)
        ]


class FaultInjector:
    """Registers on a client's ``before-send`` and fails sends according to a plan.

    rate: share of sends that fail with a fault drawn from `kinds`.
    doomed: (ARN, version) -> fault kind that fails *every* send of that event, so its
        invocations exhaust their retries and the event ends dead-lettered.
    """

    def __init__(
        self,
        seed: int,
        rate: float = 0.0,
        kinds: tuple[str, ...] = KINDS,
        doomed: dict[tuple[str, int], str] | None = None,
    ):
        self.seed = seed
        self.rate = rate
        self.kinds = kinds
        self.doomed = dict(doomed or {})
        self.enabled = True
        self._local = threading.local()
        self._lock = threading.Lock()
        self._http = URLLib3Session()
        self.invocations: list[Invocation] = []
        self.injected: Counter = Counter()

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-send.dynamodb.*", self.before_send)

    def begin(self, delivery: int, attempt: int, arn: str, version: int) -> Invocation:
        invocation = Invocation(delivery, attempt, arn, version)
        self._local.invocation = invocation
        self._local.plan = random.Random(f"{self.seed}/{delivery}/{attempt}")
        with self._lock:
            self.invocations.append(invocation)
        return invocation

    def before_send(self, request: Any, **_: Any) -> AWSResponse | None:
        invocation: Invocation | None = getattr(self._local, "invocation", None)
        if invocation is None or not self.enabled:
            return None
        kind = self.doomed.get((invocation.arn, invocation.version))
        if kind is None and self._local.plan.random() < self.rate:
            kind = self._local.plan.choice(self.kinds)
        send = Send(at=time.monotonic(), fault=kind)
        invocation.sends.append(send)
        if kind is None:
            send.reached_dynamodb = True
            return None  # botocore sends it for real; success is read back from the table
        with self._lock:
            self.injected[kind] += 1
        if kind in _ERROR_RESPONSES:
            return error_response(kind, request.url)
        if kind == CONNECT_TIMEOUT:
            raise ConnectTimeoutError(endpoint_url=request.url)
        # READ_TIMEOUT: deliver the request, lose the answer.
        response = self._http.send(request)
        send.reached_dynamodb = True
        send.applied = response.status_code == 200
        raise ReadTimeoutError(endpoint_url=request.url)


@dataclass
class LambdaResult:
    """What happened to each delivery after Lambda's retries."""

    outcomes: dict[int, str] = field(default_factory=dict)  # delivery -> handler outcome
    dead_letters: list[tuple[int, dict[str, Any], list[str]]] = field(default_factory=list)
    raised: int = 0  # invocations that raised (each one is retried or dead-lettered)

    def merge(self, other: LambdaResult) -> None:
        self.outcomes.update(other.outcomes)
        self.dead_letters.extend(other.dead_letters)
        self.raised += other.raised


def invoke_like_lambda(
    process: Callable[[dict[str, Any]], dict[str, Any]],
    delivery: int,
    event: dict[str, Any],
    injector: FaultInjector | None,
    result: LambdaResult,
    lambda_retries: int,
) -> None:
    """One asynchronous delivery: the first invocation, then retries, then the DLQ."""
    arn, version = arn_version(event)
    errors = []
    for attempt in range(1 + lambda_retries):
        invocation = injector.begin(delivery, attempt, arn, version) if injector else None
        try:
            outcome = process(event)["outcome"]
        except Exception as error:  # the invocation failed: Lambda will retry it
            result.raised += 1
            errors.append(type(error).__name__)
            if invocation is not None:
                invocation.error = type(error).__name__
            continue
        if invocation is not None:
            invocation.outcome = outcome
        result.outcomes[delivery] = outcome
        return
    result.dead_letters.append((delivery, event, errors))


def run_deliveries(
    deliveries: list[dict[str, Any]],
    make_process: Callable[[int], Callable[[dict[str, Any]], dict[str, Any]]],
    injector: FaultInjector | None,
    lambda_retries: int,
    workers: int = 1,
) -> LambdaResult:
    """Deliver every event (index = delivery number) with `workers` concurrent environments."""
    results = [LambdaResult() for _ in range(workers)]
    processes = [make_process(index) for index in range(workers)]
    cursor = iter(enumerate(deliveries))
    lock = threading.Lock()

    def work(index: int) -> None:
        while True:
            with lock:
                item = next(cursor, None)
            if item is None:
                return
            delivery, event = item
            invoke_like_lambda(
                processes[index], delivery, event, injector, results[index], lambda_retries
            )

    threads = [threading.Thread(target=work, args=(index,)) for index in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    merged = LambdaResult()
    for result in results:
        merged.merge(result)
    return merged


def doomed_events(stream: Stream, kinds: Sequence[str], seed: int) -> dict[tuple[str, int], str]:
    """(ARN, version) -> fault of events that fail on every send, one per kind: first the
    latest version of the first hot resource, so a record's newest state waits in the
    dead-letter queue, then events drawn from the rest of the stream."""
    hot = stream.hot[0]
    chosen = [(hot, stream.latest[hot][1])]
    rest = sorted(set(stream.events) - set(chosen))
    chosen += random.Random(seed).sample(rest, len(kinds) - 1)
    return dict(zip(chosen, kinds, strict=True))


def arn_version(event: dict[str, Any]) -> tuple[str, int]:
    _, arn, version = key_of(event)
    return arn, version


def retry_summary(injector: FaultInjector) -> dict[str, Any]:
    """Attempts per invocation and the pauses between attempts, by kind of fault."""
    attempts = Counter(len(invocation.sends) for invocation in injector.invocations)
    throttled: dict[int, list[float]] = {}
    other: dict[int, list[float]] = {}
    for invocation in injector.invocations:
        for retry, (fault, delay) in enumerate(invocation.delays, start=1):
            bucket = throttled if fault in THROTTLING_KINDS else other
            bucket.setdefault(retry, []).append(delay)
    return {
        "attempts_per_invocation": dict(sorted(attempts.items())),
        "delay_after_throttling_s": _delay_table(throttled),
        "delay_after_other_faults_s": _delay_table(other),
    }


def _delay_table(delays: dict[int, list[float]]) -> dict[int, dict[str, float]]:
    table = {}
    for retry, values in sorted(delays.items()):
        ordered = sorted(values)
        table[retry] = {
            "count": len(ordered),
            "median": round(ordered[len(ordered) // 2], 4),
            "max": round(ordered[-1], 4),
        }
    return table
