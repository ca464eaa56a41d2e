"""A seeded, realistic stream of ECS events: at-least-once and out of order.

Every resource (task or container instance) changes state a few times; a few "hot"
resources change state many times in a short period (a service scaling, a container
flapping between healthy and unhealthy). Each state change is one event with the next
``detail.version``. Delivery is at least once (1 to 3 copies) and late by a random delay,
so copies and neighbouring versions arrive shuffled: the order is the order of
``emitted + delay``. With ``jitter`` larger than the whole timeline the shuffle is global.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ecs_state.events import KINDS
from scripts import ecs_events as samples


@dataclass(frozen=True)
class StreamShape:
    """What the stream looks like; the defaults are the benchmark's."""

    resources: int = 150
    hot_resources: int = 5
    hot_versions: int = 50
    cold_versions: tuple[int, int] = (2, 8)
    # ECS emits a task's changes in bursts (each container's transition is its own event):
    # the versions of one burst leave within milliseconds and arrive in any order.
    hot_burst: tuple[int, int] = (3, 8)
    cold_burst: tuple[int, int] = (1, 3)
    container_instance_share: float = 0.15
    copies: tuple[tuple[int, float], ...] = ((1, 0.65), (2, 0.25), (3, 0.10))
    # Timeline units: the stream spans 1.0; a hot resource's changes span `hot_span`.
    hot_span: float = 0.12
    cold_step: float = 0.01
    jitter: float = 0.01


@dataclass
class Stream:
    seed: int
    shape: StreamShape
    deliveries: list[dict[str, Any]]
    # ARN -> (partition key name, highest version in the stream)
    latest: dict[str, tuple[str, int]]
    # (ARN, version) -> the event
    events: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    hot: list[str] = field(default_factory=list)

    @property
    def distinct(self) -> int:
        return len(self.events)

    def describe(self) -> str:
        hot_deliveries = sum(1 for event in self.deliveries if key_of(event)[1] in self.hot)
        return (
            f"{len(self.deliveries)} deliveries of {self.distinct} distinct events over "
            f"{len(self.latest)} ARNs ({len(self.hot)} hot ARNs with "
            f"{self.shape.hot_versions} versions each, {hot_deliveries} deliveries); "
            f"seed {self.seed}"
        )


def key_of(event: dict[str, Any]) -> tuple[str, str, int]:
    """(partition key name, ARN, version) of an event."""
    key = KINDS[event["detail-type"]].key
    return key, event["detail"][key], int(event["detail"]["version"])


def build_stream(seed: int, shape: StreamShape | None = None) -> Stream:
    shape = shape or StreamShape()
    rng = random.Random(seed)
    timed: list[tuple[float, int, dict[str, Any]]] = []
    latest: dict[str, tuple[str, int]] = {}
    events: dict[tuple[str, int], dict[str, Any]] = {}
    hot: list[str] = []
    weights = [weight for _, weight in shape.copies]
    counts = [count for count, _ in shape.copies]

    for index in range(shape.resources):
        is_hot = index < shape.hot_resources
        # The first hot resource is a container instance so both tables see contention.
        is_instance = index == 0 or (not is_hot and rng.random() < shape.container_instance_share)
        resource_id = uuid.UUID(int=rng.getrandbits(128), version=4).hex
        if is_hot:
            versions = shape.hot_versions
            emitted_at = _bursts(rng, versions, shape.hot_burst, shape.hot_span)
            start = rng.uniform(0.0, 1.0 - shape.hot_span)
        else:
            versions = rng.randint(*shape.cold_versions)
            emitted_at = _bursts(rng, versions, shape.cold_burst, versions * shape.cold_step)
            start = rng.uniform(0.0, 1.0 - versions * shape.cold_step)
        first_version = rng.randint(1, 5)
        for offset in range(versions):
            version = first_version + offset
            event = _event(is_instance, resource_id, version, offset, versions, rng)
            name, arn, _ = key_of(event)
            emitted = start + emitted_at[offset]
            for _ in range(rng.choices(counts, weights)[0]):
                delivered = emitted + rng.expovariate(1.0 / shape.jitter)
                timed.append((delivered, len(timed), event))
            events[(arn, version)] = event
            latest[arn] = (name, version)
        if is_hot:
            hot.append(arn)
    timed.sort()
    return Stream(
        seed=seed,
        shape=shape,
        deliveries=[event for _, _, event in timed],
        latest=latest,
        events=events,
        hot=hot,
    )


def _bursts(rng: random.Random, versions: int, burst: tuple[int, int], span: float) -> list[float]:
    """Emission time of each version (from 0): bursts of versions spread over `span`."""
    sizes: list[int] = []
    while sum(sizes) < versions:
        sizes.append(min(rng.randint(*burst), versions - sum(sizes)))
    step = span / len(sizes)
    times: list[float] = []
    for index, size in enumerate(sizes):
        times.extend(index * step + position * 1e-6 for position in range(size))
    return times


def _event(
    is_instance: bool,
    resource_id: str,
    version: int,
    offset: int,
    versions: int,
    rng: random.Random,
) -> dict[str, Any]:
    moment = samples.BASE_TIME + timedelta(seconds=version)
    if is_instance:
        status = "INACTIVE" if offset == versions - 1 and versions > 2 else "ACTIVE"
        event = samples.container_instance_event(
            samples.container_instance_arn(resource_id),
            version,
            status,
            time=moment,
            remaining_cpu=rng.randrange(0, 2049, 128),
        )
    else:
        # Walk the task lifecycle; a hot task spends most of its versions RUNNING.
        last = len(samples.TASK_STATUSES) - 1
        if offset == versions - 1:
            position = last
        elif versions > 2 * last:
            position = min(offset, 3) if offset < versions - 4 else last - (versions - 1 - offset)
        else:
            position = min(offset * last // max(versions - 1, 1), last)
        event = samples.task_event(
            samples.task_arn(resource_id), version, samples.TASK_STATUSES[position], time=moment
        )
    # Seeded event ids, so that two runs with the same seed send the same bytes.
    event["id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return event
