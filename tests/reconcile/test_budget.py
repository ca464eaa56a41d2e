"""What a run costs and how it stays inside its limits: ECS rate, time, DynamoDB units."""

from __future__ import annotations

import json
import threading
import time

import pytest
from botocore.utils import parse_timestamp

from ecs_state import reconcile
from ecs_state.reconcile import OutOfTime, RateLimiter, iso_text
from tests.reconcile.conftest import Run, reconcile_settings
from tests.support.tables import create_state_tables


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_rate_cap_allows_a_one_second_burst_then_the_rate():
    clock = FakeClock()
    limiter = RateLimiter(5, clock=clock, sleep=clock.sleep)
    for _ in range(25):
        limiter.acquire()
    # 5 at once, then 20 more at 5 a second.
    assert len(clock.slept) == 20 and clock.slept == pytest.approx([0.2] * 20)
    assert clock.now - 100.0 == pytest.approx(4.0)


def test_the_rate_cap_refuses_to_wait_past_the_deadline():
    clock = FakeClock()
    limiter = RateLimiter(1, clock=clock, sleep=clock.sleep)
    limiter.deadline = clock.now + 2.5
    limiter.acquire()
    limiter.acquire()
    limiter.acquire()  # at +2 s
    with pytest.raises(OutOfTime):
        limiter.acquire()  # would be at +3 s
    assert clock.now == pytest.approx(102.0)


@pytest.mark.parametrize(
    ("api_value", "text"),
    [
        (1716296683.112, "2024-05-21T13:04:43.112Z"),  # a float that is .11199999 in binary
        (1716296683.9996, "2024-05-21T13:04:44.000Z"),
        ("2024-05-21T13:04:43.112000+00:00", "2024-05-21T13:04:43.112Z"),
        (0, "1970-01-01T00:00:00.000Z"),
    ],
)
def test_timestamps_are_written_as_events_write_them(api_value, text):
    assert iso_text(parse_timestamp(api_value)) == text


def test_a_run_out_of_time_stops_cleanly_and_the_next_one_finishes(ecs, dynamodb, tables):
    clusters = [ecs.cluster(f"slow{n}") for n in range(3)]
    every = {cluster: ecs.run_tasks(cluster, 5) for cluster in clusters}
    for arns in every.values():
        ecs.versions.update(dict.fromkeys(arns, 2))
    # One request a second, 3 per cluster: a 2.5 s budget cannot cover 3 clusters.
    settings = reconcile_settings(
        tables, clusters, launch_type="FARGATE", max_requests_per_second=1
    )
    run = Run(settings, ecs, dynamodb)

    cut = run(time_limit=2.5, order_seed=7)

    assert not cut["complete"] and cut["stoppedBecause"] == "time", cut
    # Stopped at the deadline, give or take the request in flight; all 9 requests at
    # one a second would have taken 8 s.
    assert cut["durationMs"] < 4000 and cut["errors"] == [], cut
    assert 1 <= len(cut["remainingClusters"]) <= 3
    assert cut["clustersReconciled"] + len(cut["remainingClusters"]) == 3
    (line,) = [each for each in run.logs() if each["message"] == "reconcile finished"]
    assert line["level"] == "WARNING" and line["Incomplete"] == 1

    fast = Run(reconcile_settings(tables, clusters, launch_type="FARGATE"), ecs, dynamodb)
    finished = fast()
    assert finished["complete"]
    assert set(dynamodb.items(tables["task"])) == {a for arns in every.values() for a in arns}


def test_fargate_mode_touches_tasks_only(ecs, dynamodb, tables):
    cluster = ecs.cluster("fargate")
    ecs.container_instances(cluster, 2)
    arns = ecs.run_tasks(cluster, 3)
    ecs.versions.update(dict.fromkeys(arns, 1))
    ecs.forget_calls()

    summary = Run(reconcile_settings(tables, [cluster], launch_type="FARGATE"), ecs, dynamodb)()

    assert {name for name, _ in ecs.calls} == {"ListTasks", "DescribeTasks"}
    assert list(summary["resources"]) == ["task"] and summary["written"] == 3
    assert dynamodb.items(tables["container-instance"]) == {}


def test_without_the_index_versions_come_from_batchgetitem(ecs, dynamodb):
    tables = create_state_tables(dynamodb.client, index=False)
    cluster = ecs.cluster("noindex")
    arns = ecs.run_tasks(cluster, 120)
    ecs.versions.update(dict.fromkeys(arns, 4))
    settings = reconcile_settings(tables, [cluster], launch_type="FARGATE")
    Run(settings, ecs, dynamodb)()
    dynamodb.requests.clear()

    run = Run(settings, ecs, dynamodb)
    again = run()

    assert again["storedVersionsFrom"] == {"task": "BatchGetItem"}
    assert (again["written"], again["unchanged"]) == (0, 120)
    assert dynamodb.requests["PutItem"] == 0 and dynamodb.requests["Query"] == 0
    assert dynamodb.requests["BatchGetItem"] == 2  # one per page of 100
    assert 0 < again["readUnits"] <= 0.5 * 120
    warning = [each for each in run.logs() if each["level"] == "WARNING"]
    assert warning[0]["reason"] == "table has no index cluster-status"


def test_the_command_line_backfills_and_prints_the_summary(
    ecs, dynamodb, tables, monkeypatch, capsys
):
    cluster = ecs.cluster("cli")
    arns = ecs.run_tasks(cluster, 3)
    ecs.versions.update(dict.fromkeys(arns, 6))
    # The harness's client, so that moto's tasks carry versions (see tests/support/ecs.py).
    monkeypatch.setattr(reconcile, "ecs_client", lambda: ecs.client)
    monkeypatch.setattr(reconcile.store, "dynamodb_client", lambda settings: dynamodb.client)

    code = reconcile.main(
        [
            *("--launch-type", "EC2", "--task-table", tables["task"]),
            *("--container-instance-table", tables["container-instance"]),
            *("--cluster", cluster, "--max-requests-per-second", "20", "--ttl-days", "3"),
        ]
    )

    out = capsys.readouterr()
    assert code == 0
    summary = json.loads(out.out)
    assert summary["complete"] and summary["written"] == 3
    assert json.loads(out.err.splitlines()[-1])["message"] == "reconcile finished"
    assert set(dynamodb.items(tables["task"])) == set(arns)


def test_the_writes_of_a_batch_overlap_and_all_land(ecs, dynamodb, tables):
    """A backfill waits on DynamoDB once per WRITERS items, not once per item."""
    cluster = ecs.cluster("parallel")
    arns = ecs.run_tasks(cluster, 40)
    ecs.versions.update(dict.fromkeys(arns, 3))
    lock, in_flight, peak = threading.Lock(), [0], [0]

    def slow_put(**_):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.05)
        with lock:
            in_flight[0] -= 1

    dynamodb.client.meta.events.register("before-send.dynamodb.PutItem", slow_put)
    summary = Run(reconcile_settings(tables, [cluster], launch_type="FARGATE"), ecs, dynamodb)()

    assert summary["written"] == 40 == len(dynamodb.items(tables["task"]))
    assert 1 < peak[0] <= reconcile.WRITERS
