"""The reconciler benchmark's stand-in for ECS holds to what the figures rely on."""

from __future__ import annotations

import math
import time

from bench.reconcile import Bucket, StubEcs, run_once
from tests.support.tables import client, create_table


def test_the_stub_bucket_allows_a_burst_of_100_then_20_a_second():
    bucket = Bucket()
    assert all(bucket.take() for _ in range(100))
    assert not bucket.take()
    time.sleep(0.25)  # 5 tokens come back
    taken = sum(bucket.take() for _ in range(20))
    assert 4 <= taken <= 6


def test_a_run_against_the_stub_pages_describes_and_stores_every_task(dynamodb_local):
    stub = StubEcs(clusters=2, tasks=300, seed=3)
    dynamodb = client("dynamodb", dynamodb_local.endpoint)
    table = create_table(dynamodb, f"bench-tasks-{time.time_ns()}", "task")

    summary = run_once(stub, dynamodb, table, rate=20)

    pages = 0
    for tasks in stub.tasks.values():
        running = sum(task["desiredStatus"] == "RUNNING" for task in tasks.values())
        pages += max(1, math.ceil(running / 100)) + max(1, math.ceil((150 - running) / 100))
    assert summary["complete"] and summary["written"] == 300
    # Every page was listed, and each cluster's 150 tasks took 2 Describes.
    expected = {"ListClusters": 1, "ListTasks": pages, "DescribeTasks": 4}
    assert summary["ecsRequestsByOperation"] == expected
    assert summary["ecsThrottles"] == summary["throttledByStub"] == 0
    stored = dynamodb.scan(TableName=table, Select="COUNT")["Count"]
    assert stored == 300
