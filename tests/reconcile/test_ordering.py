"""The reconciler never moves a record backwards, and a newer event always wins."""

from __future__ import annotations

import random
import threading

from ecs_state.processor import process_event
from ecs_state.telemetry import Telemetry
from scripts import ecs_events as samples
from tests.reconcile.conftest import Run, reconcile_settings


def _event_writer(settings, dynamodb):
    telemetry = Telemetry("ERROR", "ECSState", settings.base.launch_type)

    def write(arn: str, version: int, status: str, cluster: str):
        event = samples.task_event(arn, version, status, cluster_arn=cluster)
        return process_event(event, settings.base, dynamodb.client, telemetry)["outcome"]

    return write


def test_newer_records_stay_older_are_updated_equal_cost_nothing(ecs, dynamodb, tables):
    cluster = ecs.cluster("order")
    arns = ecs.run_tasks(cluster, 30)
    ecs.versions.update(dict.fromkeys(arns, 10))
    newer, older, equal, absent = arns[:10], arns[10:20], arns[20:25], arns[25:]
    settings = reconcile_settings(tables, [cluster], launch_type="FARGATE")
    write = _event_writer(settings, dynamodb)
    for group, version in ((newer, 12), (older, 5), (equal, 10)):
        for arn in group:
            # "newer": the events of a task that moved on while the run listed it.
            write(arn, version, "STOPPING" if version > 10 else "PENDING", cluster)
    before = dynamodb.items(tables["task"])
    dynamodb.requests.clear()

    summary = Run(settings, ecs, dynamodb)()

    after = dynamodb.items(tables["task"])
    for arn in newer + equal:
        assert after[arn] == before[arn]
    for arn in older + absent:
        assert after[arn]["version"] == {"N": "10"}
        assert after[arn]["lastStatus"] == {"S": "RUNNING"}
        assert after[arn]["_source"] == {"S": "reconcile"}
    assert dynamodb.requests["PutItem"] == len(older) + len(absent) == summary["written"]
    assert (summary["unchanged"], summary["stale"]) == (len(newer) + len(equal), 0)


def test_events_and_runs_on_threads_end_at_the_highest_version_seen(ecs, dynamodb, tables):
    """Event writers and reconcile runs race on the same 40 records. The API's version of
    each task is fixed; events bring versions below and above it, each once, in a random
    order. Whatever the schedule, each record ends at the highest version either side had,
    with the content of whichever side had it."""
    rng = random.Random(1414)
    cluster = ecs.cluster("race")
    arns = ecs.run_tasks(cluster, 40)
    api = {arn: rng.randint(3, 12) for arn in arns}
    ecs.versions.update(api)
    delivered = {arn: rng.sample(range(1, 16), rng.randint(1, 6)) for arn in arns}
    deliveries = [(arn, version) for arn, versions in delivered.items() for version in versions]
    rng.shuffle(deliveries)
    settings = reconcile_settings(tables, [cluster], launch_type="FARGATE")
    write = _event_writer(settings, dynamodb)
    failures: list[BaseException] = []
    start = threading.Barrier(5)

    def events_worker(share):
        start.wait()
        try:
            for arn, version in share:
                write(arn, version, "STOPPING", cluster)
        except BaseException as error:  # surfaced below, not lost in the thread
            failures.append(error)

    def reconcile_worker():
        start.wait()
        try:
            run = Run(settings, ecs, dynamodb)
            for _ in range(3):
                run()
        except BaseException as error:
            failures.append(error)

    threads = [
        threading.Thread(target=events_worker, args=(deliveries[i::4],)) for i in range(4)
    ] + [threading.Thread(target=reconcile_worker)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures

    stored = dynamodb.items(tables["task"])
    for arn in arns:
        highest = max(api[arn], *delivered[arn])
        item = stored[arn]
        assert item["version"] == {"N": str(highest)}, arn
        from_event = (item["lastStatus"], "_source" in item) == ({"S": "STOPPING"}, False)
        from_api = (item["lastStatus"], item.get("_source")) == (
            {"S": "RUNNING"},
            {"S": "reconcile"},
        )
        if highest > api[arn]:
            assert from_event, arn
        elif highest not in delivered[arn]:
            assert from_api, arn
        else:  # a tie: whichever side wrote first keeps it, whole
            assert from_event or from_api, arn
