"""Many writers, one stream, real DynamoDB engine: nobody ends below their max version."""

from __future__ import annotations

import random
import threading
import uuid

import pytest

from ecs_state.processor import process_event
from scripts import ecs_events as samples
from tests.handler.local import RequestCounter, handler_client, local_settings, quiet_telemetry
from tests.support.tables import local_client

pytestmark = pytest.mark.dynamodb_local
THREADS = 8
RESOURCES = 50  # half tasks, half container instances
VERSIONS_PER_RESOURCE = 60  # 3,000 distinct events, about 6,000 deliveries


def test_concurrent_writers_keep_the_latest_version(local_tables):
    config = local_settings(local_tables)
    rng = random.Random(20261122)
    prefix = uuid.uuid4().hex
    events = []
    for index in range(RESOURCES):
        for version in range(1, VERSIONS_PER_RESOURCE + 1):
            if index % 2 == 0:
                event = samples.task_event(
                    samples.task_arn(f"{prefix}-{index}"),
                    version,
                    samples.TASK_STATUSES[version % 8],
                )
            else:
                event = samples.container_instance_event(
                    samples.container_instance_arn(f"{prefix}-{index}"),
                    version,
                    remaining_cpu=version,
                )
            events.extend([event] * rng.choice([1, 1, 2, 3]))  # at-least-once delivery
    rng.shuffle(events)
    assert len(events) >= 5000

    clients = [handler_client(config, local_tables["endpoint"]) for _ in range(THREADS)]
    counters = [RequestCounter(client) for client in clients]
    outcomes: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    queue = iter(events)

    def worker(client):
        telemetry = quiet_telemetry(config)
        while True:
            with lock:
                event = next(queue, None)
            if event is None:
                return
            try:
                result = process_event(event, config, client, telemetry)
            except BaseException as error:  # surfaced below, with the thread's failure
                errors.append(error)
                return
            with lock:
                outcomes.append(result["outcome"])

    threads = [threading.Thread(target=worker, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(outcomes) == len(events)
    assert sum(counter.count for counter in counters) == len(events), (
        "one DynamoDB request per event"
    )
    assert outcomes.count("applied") >= RESOURCES  # every resource was created at least once

    reader = local_client(local_tables["endpoint"])
    below_max = []
    for index in range(RESOURCES):
        if index % 2 == 0:
            table, key, arn = config.task_table, "taskArn", samples.task_arn(f"{prefix}-{index}")
        else:
            table, key = config.container_instance_table, "containerInstanceArn"
            arn = samples.container_instance_arn(f"{prefix}-{index}")
        item = reader.get_item(TableName=table, Key={key: {"S": arn}}, ConsistentRead=True)["Item"]
        if int(item["version"]["N"]) != VERSIONS_PER_RESOURCE:
            below_max.append((arn, item["version"]["N"]))
    assert below_max == []
