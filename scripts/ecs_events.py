"""Realistic ECS events, shaped like the examples in the ECS developer guide.

Each builder returns a fresh dict, so a test may change it freely.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

ACCOUNT = "111122223333"
REGION = "us-east-1"
CLUSTER = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/default"
BASE_TIME = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)

TASK_STATUSES = [
    "PROVISIONING",
    "PENDING",
    "ACTIVATING",
    "RUNNING",
    "DEACTIVATING",
    "STOPPING",
    "DEPROVISIONING",
    "STOPPED",
]


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


# Lifecycles as ECS reports them; every step is one version.
FARGATE_TASK_LIFECYCLE = TASK_STATUSES
EC2_TASK_LIFECYCLE = ["PENDING", "RUNNING", "STOPPING", "STOPPED"]
INSTANCE_LIFECYCLE = ["REGISTERING", "ACTIVE", "ACTIVE", "ACTIVE", "DRAINING", "INACTIVE"]


def realistic_stream(
    seed: int,
    clusters: tuple[tuple[str, str], ...] = (("web", "EC2"), ("jobs", "FARGATE"), ("batch", "EC2")),
    tasks_per_cluster: int = 36,
    instances_per_ec2_cluster: int = 6,
    duplicate_rate: float = 0.25,
) -> tuple[list[dict], dict[str, tuple[str, int, str]]]:
    """A shuffled, duplicated stream of task and container-instance lifecycles.

    Returns the events and, per ARN, the latest state it must end in:
    (resource kind, version, status).
    """
    rng = random.Random(seed)
    events: list[dict] = []
    expected: dict[str, tuple[str, int, str]] = {}
    for cluster_name, launch_type in clusters:
        cluster_arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{cluster_name}"
        instances = []
        if launch_type == "EC2":
            for _ in range(instances_per_ec2_cluster):
                arn = container_instance_arn(uuid.UUID(int=rng.getrandbits(128)).hex, cluster_name)
                instances.append(arn)
                steps = INSTANCE_LIFECYCLE[: rng.randint(2, len(INSTANCE_LIFECYCLE))]
                for version, status in enumerate(steps, start=1):
                    events.append(
                        container_instance_event(
                            arn,
                            version,
                            status,
                            cluster_arn=cluster_arn,
                            remaining_cpu=rng.choice([512, 1024, 2048]),
                        )
                    )
                expected[arn] = ("container-instance", len(steps), steps[-1])
        for _ in range(tasks_per_cluster):
            arn = task_arn(uuid.UUID(int=rng.getrandbits(128)).hex, cluster_name)
            if launch_type == "EC2":
                lifecycle, task_launch_type = EC2_TASK_LIFECYCLE, "EC2"
                placed_on = rng.choice(instances)
            else:
                lifecycle, placed_on = FARGATE_TASK_LIFECYCLE, None
                task_launch_type = None if rng.random() < 0.3 else "FARGATE"  # Spot: no launchType
            steps = lifecycle[: rng.randint(2, len(lifecycle))]
            secret = {"API_TOKEN": f"tok-{rng.getrandbits(32):08x}"}
            for version, status in enumerate(steps, start=1):
                events.append(
                    task_event(
                        arn,
                        version,
                        status,
                        launch_type=task_launch_type,
                        cluster_arn=cluster_arn,
                        container_instance=placed_on,
                        environment=secret,
                    )
                )
            expected[arn] = ("task", len(steps), steps[-1])
    deliveries = [e for e in events for _ in range(1 + (rng.random() < duplicate_rate))]
    rng.shuffle(deliveries)
    return deliveries, expected
