"""Realistic ECS events, shaped like the examples in the ECS developer guide.

Each builder returns a fresh dict, so a test may change it freely.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ecs_state.events import TASK_LIFECYCLE

ACCOUNT = "111122223333"
REGION = "us-east-1"
CLUSTER = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/default"
BASE_TIME = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)

TASK_STATUSES = list(TASK_LIFECYCLE)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def task_arn(task_id: str, cluster_name: str = "default") -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/{cluster_name}/{task_id}"


def container_instance_arn(instance_id: str, cluster_name: str = "default") -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/{cluster_name}/{instance_id}"


def envelope(
    detail_type: str, detail: dict[str, Any], time: datetime, resources: list[str]
) -> dict:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.ecs",
        "account": ACCOUNT,
        "time": iso(time),
        "region": REGION,
        "resources": resources,
        "detail": detail,
    }


def task_event(
    arn: str,
    version: int,
    last_status: str = "RUNNING",
    *,
    launch_type: str | None = "FARGATE",
    cluster_arn: str = CLUSTER,
    container_instance: str | None = None,
    time: datetime | None = None,
    environment: dict[str, str] | None = None,
) -> dict:
    """A task state change. launch_type=None models a capacity-provider (FARGATE_SPOT) task."""
    time = time or BASE_TIME + timedelta(seconds=version)
    desired = (
        "STOPPED"
        if last_status in ("DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED")
        else "RUNNING"
    )
    detail: dict[str, Any] = {
        "attachments": [
            {
                "id": "1789bcae-ddfb-4d10-8ebe-8ac87ddba5b8",
                "type": "eni",
                "status": "ATTACHED",
                "details": [
                    {"name": "subnetId", "value": "subnet-abcd1234"},
                    {"name": "networkInterfaceId", "value": "eni-abcd1234"},
                    {"name": "privateIPv4Address", "value": "10.0.0.139"},
                ],
            }
        ],
        "availabilityZone": f"{REGION}b",
        "clusterArn": cluster_arn,
        "containers": [
            {
                "containerArn": arn.replace(":task/", ":container/") + "/web",
                "lastStatus": last_status,
                "name": "web",
                "image": "public.ecr.aws/nginx/nginx:1.27",
                "taskArn": arn,
                "networkInterfaces": [
                    {"attachmentId": "1789bcae", "privateIpv4Address": "10.0.0.139"}
                ],
                "cpu": "256",
                "memory": "512",
            }
        ],
        "cpu": "256",
        "createdAt": iso(BASE_TIME),
        "desiredStatus": desired,
        "enableExecuteCommand": False,
        "ephemeralStorage": {"sizeInGiB": 20},
        "group": "service:web",
        "lastStatus": last_status,
        "memory": "512",
        "overrides": {
            "containerOverrides": [
                {
                    "name": "web",
                    "environment": [
                        {"name": key, "value": value} for key, value in (environment or {}).items()
                    ],
                }
            ]
        },
        "platformVersion": "1.4.0",
        "startedBy": "ecs-svc/1234567890123456789",
        "taskArn": arn,
        "taskDefinitionArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:7",
        "updatedAt": iso(time),
        "version": version,
    }
    if launch_type is not None:
        detail["launchType"] = launch_type
    else:
        detail["capacityProviderName"] = "FARGATE_SPOT"
    if container_instance is not None:
        detail["containerInstanceArn"] = container_instance
        detail.pop("platformVersion")
    if last_status == "STOPPED":
        detail["stoppedAt"] = iso(time)
        detail["stopCode"] = "EssentialContainerExited"
        detail["stoppedReason"] = "Essential container in task exited"
    return envelope("ECS Task State Change", detail, time, [arn])


def container_instance_event(
    arn: str,
    version: int,
    status: str = "ACTIVE",
    *,
    cluster_arn: str = CLUSTER,
    time: datetime | None = None,
    remaining_cpu: int = 2048,
) -> dict:
    time = time or BASE_TIME + timedelta(seconds=version)
    detail = {
        "agentConnected": status == "ACTIVE",
        "attributes": [
            {"name": "ecs.capability.secrets.asm.environment-variables"},
            {"name": "ecs.os-type", "value": "linux"},
            {"name": "ecs.availability-zone", "value": f"{REGION}b"},
        ],
        "clusterArn": cluster_arn,
        "containerInstanceArn": arn,
        "ec2InstanceId": "i-0123456789abcdef0",
        "registeredResources": [
            {"name": "CPU", "type": "INTEGER", "integerValue": 2048},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": 3767},
            {
                "name": "PORTS",
                "type": "STRINGSET",
                "stringSetValue": ["22", "2376", "2375", "51678"],
            },
        ],
        "remainingResources": [
            {"name": "CPU", "type": "INTEGER", "integerValue": remaining_cpu},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": 3767},
            {
                "name": "PORTS",
                "type": "STRINGSET",
                "stringSetValue": ["22", "2376", "2375", "51678"],
            },
        ],
        "status": status,
        "version": version,
        "versionInfo": {
            "agentHash": "4023248",
            "agentVersion": "1.88.0",
            "dockerVersion": "DockerVersion: 25.0.6",
        },
        "updatedAt": iso(time),
    }
    return envelope("ECS Container Instance State Change", detail, time, [arn])


def service_event(
    detail_type: str, cluster_arn: str, service: str, time: datetime, detail: dict
) -> dict:
    """An event about an ECS service, named by its ARN in `resources`."""
    service_arn = f"{cluster_arn.replace(':cluster/', ':service/')}/{service}"
    return envelope(detail_type, detail, time, [service_arn])


def service_action_event(cluster_arn: str, service: str, time: datetime) -> dict:
    """An ECS service action: the module's rule must not deliver it."""
    detail = {
        "eventType": "INFO",
        "eventName": "SERVICE_STEADY_STATE",
        "clusterArn": cluster_arn,
        "createdAt": iso(time),
    }
    return service_event("ECS Service Action", cluster_arn, service, time, detail)


def deployment_event(cluster_arn: str, service: str, time: datetime) -> dict:
    """An ECS deployment state change; like ECS's own, its detail names no cluster."""
    deployment = f"ecs-svc/{time:%H%M%S}"
    detail = {
        "eventType": "INFO",
        "eventName": "SERVICE_DEPLOYMENT_COMPLETED",
        "deploymentId": deployment,
        "updatedAt": iso(time),
        "reason": f"ECS deployment {deployment} completed.",
    }
    return service_event("ECS Deployment State Change", cluster_arn, service, time, detail)


def ec2_instance_event(instance_id: str, state: str, time: datetime) -> dict:
    """An event from another source (EC2) on the same bus."""
    event = envelope(
        "EC2 Instance State-change Notification",
        {"instance-id": instance_id, "state": state},
        time,
        [f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{instance_id}"],
    )
    event["source"] = "aws.ec2"
    return event


# Lifecycles as ECS reports them; every step is one version.
FARGATE_TASK_LIFECYCLE = TASK_STATUSES
EC2_TASK_LIFECYCLE = ["PENDING", "RUNNING", "STOPPING", "STOPPED"]
INSTANCE_LIFECYCLE = ["REGISTERING", "ACTIVE", "ACTIVE", "ACTIVE", "DRAINING", "INACTIVE"]


@dataclass(frozen=True)
class Cluster:
    """One cluster of a stream, by ARN (any account).

    An EC2 cluster has container instances and EC2 tasks; a FARGATE one Fargate tasks. Both
    also run tasks placed by the FARGATE_SPOT capacity provider, which carry no launchType.
    """

    arn: str
    capacity: str = "EC2"

    def __post_init__(self) -> None:
        if self.capacity not in ("EC2", "FARGATE"):
            raise ValueError(f"capacity must be EC2 or FARGATE, got {self.capacity!r}")
        if ":cluster/" not in self.arn:
            raise ValueError(f"not an ECS cluster ARN: {self.arn!r}")

    @property
    def name(self) -> str:
        return self.arn.rsplit("/", 1)[1]

    @property
    def account(self) -> str:
        return self.arn.split(":")[4]

    def resource_arn(self, resource: str, resource_id: str) -> str:
        return f"{self.arn.split(':cluster/')[0]}:{resource}/{self.name}/{resource_id}"


def cluster_arn(name: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:ecs:{REGION}:{account}:cluster/{name}"


def mixed_stream(
    seed: int,
    clusters: list[Cluster],
    *,
    tasks_per_cluster: int = 24,
    instances_per_ec2_cluster: int = 4,
    spot_share: float = 0.25,
    service_events_per_cluster: int = 4,
    other_source_events: int = 6,
    duplicate_rate: float = 0.25,
) -> list[dict]:
    """Everything a busy account's default bus carries, shuffled, some of it twice.

    Per cluster: task and container-instance lifecycles (every step one version), service
    actions and deployments, and three events a rule may deliver but the function must
    reject (a non-integer version, a task without taskArn, an instance without version),
    each about a resource no valid event mentions. Plus EC2 instance events from another
    source. Which of these a rule delivers is for the rule to decide: nothing here says.
    """
    rng = random.Random(seed)

    def new_id() -> str:
        return uuid.UUID(int=rng.getrandbits(128)).hex

    events: list[dict] = []
    for cluster in clusters:
        mine: list[dict] = []
        instances = []
        if cluster.capacity == "EC2":
            for _ in range(instances_per_ec2_cluster):
                arn = cluster.resource_arn("container-instance", new_id())
                instances.append(arn)
                steps = INSTANCE_LIFECYCLE[: rng.randint(2, len(INSTANCE_LIFECYCLE))]
                mine += [
                    container_instance_event(
                        arn,
                        version,
                        status,
                        cluster_arn=cluster.arn,
                        remaining_cpu=rng.choice([512, 1024, 2048]),
                    )
                    for version, status in enumerate(steps, start=1)
                ]
        for _ in range(tasks_per_cluster):
            arn = cluster.resource_arn("task", new_id())
            launch_type: str | None = cluster.capacity
            if rng.random() < spot_share:
                launch_type = None
            lifecycle = EC2_TASK_LIFECYCLE if launch_type == "EC2" else FARGATE_TASK_LIFECYCLE
            steps = lifecycle[: rng.randint(2, len(lifecycle))]
            secret = {"API_TOKEN": f"tok-{rng.getrandbits(32):08x}"}
            placed_on = rng.choice(instances) if launch_type == "EC2" else None
            mine += [
                task_event(
                    arn,
                    version,
                    status,
                    launch_type=launch_type,
                    cluster_arn=cluster.arn,
                    container_instance=placed_on,
                    environment=secret,
                )
                for version, status in enumerate(steps, start=1)
            ]
        for step in range(service_events_per_cluster):
            when = BASE_TIME + timedelta(seconds=step)
            build = service_action_event if step % 2 == 0 else deployment_event
            mine.append(build(cluster.arn, "web", when))
        mine += malformed_events(cluster, new_id)
        for event in mine:
            event["account"] = cluster.account
        events += mine
    for step in range(other_source_events):
        events.append(
            ec2_instance_event(
                f"i-{rng.getrandbits(68):017x}",
                rng.choice(["pending", "running", "stopping"]),
                BASE_TIME + timedelta(seconds=step),
            )
        )
    deliveries = [e for e in events for _ in range(1 + (rng.random() < duplicate_rate))]
    rng.shuffle(deliveries)
    return deliveries


def malformed_events(cluster: Cluster, new_id: Callable[[], str]) -> list[dict]:
    """Events of the cluster's own kinds that the function must reject, writing nothing."""
    wrong_version = task_event(
        cluster.resource_arn("task", new_id()), 1, cluster_arn=cluster.arn, launch_type=None
    )
    wrong_version["detail"]["version"] = "seven"
    no_arn = task_event(
        cluster.resource_arn("task", new_id()), 1, cluster_arn=cluster.arn, launch_type=None
    )
    del no_arn["detail"]["taskArn"]
    bad = [wrong_version, no_arn]
    if cluster.capacity == "EC2":
        no_version = container_instance_event(
            cluster.resource_arn("container-instance", new_id()), 1, cluster_arn=cluster.arn
        )
        del no_version["detail"]["version"]
        bad.append(no_version)
    return bad
