"""The module's event path end to end, each hop on AWS's own engine (scripts/pipeline.py).

Per mode: one apply of the example to a moto server of the test's own (tests/examples
applies the same examples, by the same names, to the shared one), the rule and function
read back from it, then one mixed stream through event-ruler with the applied pattern and
the applied zip under aws-lambda-rie, into DynamoDB Local. The apply is not destroyed: the
private server goes away with everything in it, and tests/examples proves destroy.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from collections import Counter
from contextlib import ExitStack

import pytest

from scripts.ecs_events import mixed_stream
from scripts.pipeline import (
    LAMBDA_ERROR_KEYS,
    NOT_DELIVERED,
    REJECTED,
    ROOT,
    STORED_KINDS,
    AppliedFunction,
    LambdaRuntime,
    LocalExample,
    PipelineRun,
    PipelineUnavailable,
    Record,
    apply_and_read,
    latest_delivered,
    record_of,
    require_engines,
    run_pipeline,
    stored_records,
    stream_clusters,
)
from tests.conftest import skip_or_fail
from tools.emulators import moto_server

pytestmark = pytest.mark.module

SEED = 151
LAUNCH_TYPES = {"ec2": "EC2", "fargate": "FARGATE"}


@pytest.fixture
def engines(moto) -> None:
    """The module tier's checks (tofu, provider mirror) and the pipeline's engines."""
    try:
        require_engines()
    except PipelineUnavailable as error:
        skip_or_fail("pipeline", str(error))


def run_example(name: str, binary: str | None, dynamodb_endpoint: str) -> tuple[PipelineRun, dict]:
    """Apply examples/<name>, run a mixed stream through it; the run and what was stored."""
    with ExitStack() as stack:
        try:
            moto = stack.enter_context(moto_server())
        except Exception as error:
            skip_or_fail("moto-server", f"moto's server did not start: {error}")
        example = LocalExample(ROOT / "examples" / name, moto.endpoint, binary)
        stack.callback(shutil.rmtree, example.dir, True)
        function = apply_and_read(example, moto.endpoint, dynamodb_endpoint)
    events = mixed_stream(SEED, stream_clusters(function), tasks_per_cluster=10)
    try:
        run = run_pipeline(function, events, dynamodb_endpoint)
    except PipelineUnavailable as error:  # found, but the RIE would not start
        skip_or_fail("pipeline", str(error))
    return run, stored_records(function, dynamodb_endpoint)


@pytest.mark.parametrize("name", sorted(LAUNCH_TYPES))
def test_every_hop_on_aws_engines(request, name, engines, dynamodb_local):
    binary = request.config.getoption("dest_tf_binary")
    run, stored = run_example(name, binary, dynamodb_local.endpoint)

    assert_applied_function(run.function, LAUNCH_TYPES[name])
    assert_only_followed_clusters_stored(run, stored)
    assert_latest_delivered_version_stored(run, stored)
    assert_rejected_events_wrote_nothing(run, stored)
    assert_one_invocation_per_delivered_event(run)
    assert_lambda_shapes(run)


def assert_applied_function(function: AppliedFunction, launch_type: str) -> None:
    """What runs is what the apply made, read back from the control plane."""
    assert function.handler == "ecs_state.handler.lambda_handler"
    assert function.runtime.startswith("python3")
    assert function.environment["LAUNCH_TYPE"] == launch_type
    has_instances = function.table_of("ECS Container Instance State Change") is not None
    assert has_instances is (launch_type == "EC2")
    assert function.followed_clusters, "each example follows one cluster"


def assert_only_followed_clusters_stored(run: PipelineRun, stored: dict[str, Record]) -> None:
    followed = set(run.function.followed_clusters or [])
    assert {record.cluster for record in stored.values()} == followed
    others = {
        d.event["detail"]["clusterArn"]
        for d in run.deliveries
        if d.event.get("source") == "aws.ecs" and "clusterArn" in d.event["detail"]
    } - followed
    assert len(others) == 2, "the stream carries two clusters the rule does not follow"
    assert all(
        not d.delivered for d in run.deliveries if d.event["detail"].get("clusterArn") in others
    )
    # Only ECS state changes of the kinds this mode keeps get through.
    delivered_types = {d.event["detail-type"] for d in run.deliveries if d.delivered}
    assert delivered_types == {t for t in STORED_KINDS if run.function.table_of(t)}
    assert Counter(d.event["source"] for d in run.deliveries if not d.delivered)["aws.ec2"] > 0
    # Capacity-provider (Spot) tasks carry no launchType; the rule keeps them all the same.
    spot = {
        d.event["detail"]["taskArn"]
        for d in run.deliveries
        if d.event["detail-type"] == "ECS Task State Change"
        and d.event["detail"].get("clusterArn") in followed
        and "launchType" not in d.event["detail"]
        and record_of(d.event, run.function)
    }
    assert spot and spot <= set(stored)


def assert_latest_delivered_version_stored(run: PipelineRun, stored: dict[str, Record]) -> None:
    expected = latest_delivered(run)
    assert stored == expected
    # Out of order and twice: the stream makes the function see stale events too.
    outcomes = Counter(d.outcome for d in run.deliveries)
    assert outcomes["applied"] > 0 and outcomes["stale-or-duplicate"] > 0, outcomes


def assert_rejected_events_wrote_nothing(run: PipelineRun, stored: dict[str, Record]) -> None:
    rejected = [d for d in run.deliveries if d.outcome == REJECTED]
    unstorable = [
        d for d in run.deliveries if d.delivered and record_of(d.event, run.function) is None
    ]
    assert rejected == unstorable
    # The stream's malformed events of the followed cluster: two task events, plus an
    # instance event in EC2 mode (each possibly delivered twice).
    malformed_arns = {d.event["resources"][0] for d in rejected}
    assert len(malformed_arns) == (3 if run.function.environment["LAUNCH_TYPE"] == "EC2" else 2)
    assert not malformed_arns & set(stored)


def assert_one_invocation_per_delivered_event(run: PipelineRun) -> None:
    delivered = [d for d in run.deliveries if d.delivered]
    assert all(d.invocation is not None for d in delivered)
    assert all(d.invocation is None for d in run.deliveries if not d.delivered)
    sent = [d.invocation.request_id for d in delivered]
    assert len(set(sent)) == len(sent)
    # The RIE's own log: one START per invocation, with the id each request carried.
    assert sorted(run.request_ids_seen) == sorted(sent)
    assert Counter(d.outcome for d in run.deliveries)[NOT_DELIVERED] == len(run.deliveries) - len(
        delivered
    )


def assert_lambda_shapes(run: PipelineRun) -> None:
    """Invoke's payloads: the handler's result, or Lambda's error object for a failure."""
    frame = re.compile(r'^  File "([^"]+)", line \d+, in \w+')
    for delivery in run.deliveries:
        invocation = delivery.invocation
        if invocation is None:
            continue
        assert invocation.status == 200  # Lambda answers 200 for function errors too
        body, detail = invocation.body, delivery.event["detail"]
        if delivery.outcome == REJECTED:
            assert set(body) == LAMBDA_ERROR_KEYS
            assert body["errorType"] == "InvalidEventError"
            assert body["requestId"] == invocation.request_id
            assert re.search(
                r"detail\.(version|taskArn|containerInstanceArn)", body["errorMessage"]
            )
            files = [frame.match(line).group(1) for line in body["stackTrace"]]
            # The code that ran is the applied zip, unpacked, not this checkout.
            assert files and all(f.startswith(run.package_dir + "/ecs_state/") for f in files)
        else:
            kind = STORED_KINDS[delivery.event["detail-type"]]
            assert body == {
                "outcome": body["outcome"],
                "arn": detail[kind[2]],
                "version": detail["version"],
            }
            assert body["outcome"] in ("applied", "stale-or-duplicate")


@pytest.mark.parametrize(
    ("rie", "message"),
    [
        ("missing", r"tools/bootstrap\.sh rie"),
        ("/bin/false", r"aws-lambda-rie did not start: .*exited with code 1"),
    ],
)
def test_an_emulator_that_cannot_run_is_loud(monkeypatch, tmp_path, rie, message):
    """No RIE, or one that exits: the pipeline refuses and says why; no handler is imported."""
    monkeypatch.setenv("LAMBDA_RIE_BIN", str(tmp_path / rie) if rie == "missing" else rie)
    package = tmp_path / "function.zip"
    zipfile.ZipFile(package, "w").close()
    function = AppliedFunction(
        "f", "ecs_state.handler.lambda_handler", "python3.13", {}, 3, 128, package, "r", "{}"
    )
    with pytest.raises(PipelineUnavailable, match=message), LambdaRuntime(function, "http://x"):
        pass
