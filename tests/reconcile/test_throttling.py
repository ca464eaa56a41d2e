"""ECS throttling: the run slows down and finishes, or stops cleanly; nothing is lost."""

from __future__ import annotations

from bench.faults import recorded_backoff
from tests.reconcile.conftest import Run, reconcile_settings


def _world(ecs, clusters: int, tasks: int):
    arns = {}
    for number in range(clusters):
        cluster = ecs.cluster(f"throttled{number}")
        arns[cluster] = ecs.run_tasks(cluster, tasks)
        ecs.versions.update(dict.fromkeys(arns[cluster], 3))
    ecs.forget_calls()
    return arns


def test_a_throttled_run_retries_counts_and_finishes(ecs, dynamodb, tables):
    world = _world(ecs, clusters=2, tasks=120)
    # Every third HTTP attempt is throttled, retries included.
    ecs.should_throttle = lambda attempt, operation: attempt % 3 == 0

    with recorded_backoff() as pauses:
        summary = Run(reconcile_settings(tables, world, launch_type="FARGATE"), ecs, dynamodb)()

    assert summary["complete"]
    assert summary["written"] == 240
    stored = dynamodb.items(tables["task"])
    assert set(stored) == {arn for arns in world.values() for arn in arns}
    # Each throttle was seen, and retried: more attempts than API calls.
    assert summary["ecsThrottles"] == ecs.throttled > 0
    assert summary["ecsRequests"] == ecs.attempts == len(ecs.calls) + ecs.throttled
    # The run slows down: botocore paused before every retry of a throttled attempt.
    assert len(pauses) == ecs.throttled and all(pause > 0 for pause in pauses)


def test_throttling_past_the_retries_stops_the_run_cleanly_and_the_next_run_catches_up(
    ecs, dynamodb, tables
):
    world = _world(ecs, clusters=2, tasks=30)
    settings = reconcile_settings(tables, world, launch_type="FARGATE")
    ecs.should_throttle = lambda attempt, operation: True  # ECS refuses everything

    stopped = Run(settings, ecs, dynamodb)()

    assert not stopped["complete"] and stopped["stoppedBecause"] == "throttling"
    assert sorted(stopped["remainingClusters"]) == sorted(world)
    assert stopped["errors"] == [] and stopped["written"] == 0
    # It gave up after the client's attempts on the first request, not after hammering on.
    assert ecs.attempts == 3
    assert dynamodb.items(tables["task"]) == {}

    ecs.should_throttle = lambda attempt, operation: False
    caught_up = Run(settings, ecs, dynamodb)()
    assert caught_up["complete"] and caught_up["written"] == 60
