"""moto's ECS, made to behave like ECS where the reconciler depends on it.

moto 5.2.5's ECS differs from the real service in four ways that matter here, and
``EcsHarness`` closes each gap on one test client with botocore hooks:

- its tasks and container instances carry no ``version``: an ``after-call`` hook sets
  the version the test chose (``versions``; an ARN left out gets none, which is how a
  test makes an object without a version);
- its DescribeTasks moves a task's lastStatus one step on every read unless the state
  manager is pinned: ``pin_task_states`` sets moto's transition to "manual" with a count
  no test reaches;
- its ListTasks ignores maxResults and nextToken: the hook cuts the full answer into
  pages of maxResults and uses the offset as the next token, as ECS pages;
- its DescribeTasks never reports failures: the hook adds ``{"reason": "MISSING"}`` for
  each requested task it did not return, as ECS does.

Faults: ``throttle`` makes chosen HTTP attempts answer ThrottlingException before they
reach moto, so botocore's retry mode handles them as it would ECS's.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

from bench.faults import THROTTLING, error_response
from tests.support.tables import client
from tools.emulators import pin_task_states

__all__ = ["EcsHarness", "pin_task_states"]


class EcsHarness:
    """A boto3 ECS client on moto's server with the gaps above closed and every call logged."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.client = client("ecs", endpoint)
        self.versions: dict[str, int] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.attempts = 0
        self.throttled = 0
        self.should_throttle: Callable[[int, str], bool] = lambda attempt, operation: False
        self._lock = threading.Lock()
        events = self.client.meta.events
        events.register("provide-client-params.ecs", self._remember_params)
        events.register("before-send.ecs", self._maybe_throttle)
        events.register("after-call.ecs.ListTasks", self._page)
        events.register("after-call.ecs.DescribeTasks", self._describe_tasks)
        events.register(
            "after-call.ecs.DescribeContainerInstances", self._describe_container_instances
        )

    # -- building a world in moto ----------------------------------------------------------

    def cluster(self, prefix: str) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        return self.client.create_cluster(clusterName=name)["cluster"]["clusterArn"]

    def task_definition(self) -> str:
        answer = self.client.register_task_definition(
            family="web",
            containerDefinitions=[{"name": "web", "image": "nginx", "memory": 128, "cpu": 64}],
        )
        return answer["taskDefinition"]["taskDefinitionArn"]

    def run_tasks(
        self, cluster: str, count: int, *, launch_type: str = "FARGATE", environment=None
    ) -> list[str]:
        definition = self.task_definition()
        overrides = {}
        if environment:
            pairs = [{"name": key, "value": value} for key, value in environment.items()]
            overrides = {"containerOverrides": [{"name": "web", "environment": pairs}]}
        arns: list[str] = []
        while len(arns) < count:
            # ECS starts at most 10 tasks per RunTask; keep to it although moto does not.
            answer = self.client.run_task(
                cluster=cluster,
                taskDefinition=definition,
                count=min(10, count - len(arns)),
                launchType=launch_type,
                overrides=overrides,
            )
            arns += [task["taskArn"] for task in answer["tasks"]]
        return arns

    def stop_task(self, cluster: str, arn: str) -> None:
        self.client.stop_task(cluster=cluster, task=arn, reason="test")

    def container_instances(self, cluster: str, count: int) -> list[str]:
        ec2 = client("ec2", self.endpoint)
        reservation = ec2.run_instances(ImageId="ami-12c6146b", MinCount=count, MaxCount=count)
        arns = []
        for instance in reservation["Instances"]:
            document = json.dumps({"instanceId": instance["InstanceId"]})
            answer = self.client.register_container_instance(
                cluster=cluster, instanceIdentityDocument=document
            )
            arns.append(answer["containerInstance"]["containerInstanceArn"])
        return arns

    def task_arn_unknown_to_ecs(self, cluster: str) -> str:
        """A task ARN in the cluster's format that ECS has never heard of."""
        name = cluster.rsplit("/", 1)[-1]
        return f"{cluster.split(':cluster/')[0]}:task/{name}/{uuid.uuid4().hex}"

    def instance_arn_unknown_to_ecs(self, cluster: str) -> str:
        name = cluster.rsplit("/", 1)[-1]
        return f"{cluster.split(':cluster/')[0]}:container-instance/{name}/{uuid.uuid4().hex}"

    # -- what the reconciler asked -----------------------------------------------------------

    def forget_calls(self) -> None:
        """Start counting afresh: what built the world is not what the run asked."""
        with self._lock:
            self.calls.clear()
            self.attempts = self.throttled = 0

    def count(self, operation: str) -> int:
        return sum(1 for name, _ in self.calls if name == operation)

    def requested(self, operation: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == operation]

    # -- hooks -------------------------------------------------------------------------------

    def _remember_params(self, params: dict[str, Any], model: Any, context: dict, **_: Any):
        context["test_params"] = dict(params)
        with self._lock:
            self.calls.append((model.name, dict(params)))

    def _maybe_throttle(self, request: Any, event_name: str, **_: Any):
        operation = event_name.rsplit(".", 1)[-1]
        with self._lock:
            self.attempts += 1
            attempt = self.attempts
        if self.should_throttle(attempt, operation):
            with self._lock:
                self.throttled += 1
            return error_response(THROTTLING, request.url)
        return None

    def _page(self, parsed: dict[str, Any], context: dict, **_: Any) -> None:
        params = context.get("test_params", {})
        arns = sorted(parsed.get("taskArns", []))
        size = params.get("maxResults", 100)
        assert 1 <= size <= 100, f"ListTasks maxResults {size} is outside ECS's 1..100"
        start = int(params.get("nextToken") or 0)
        parsed["taskArns"] = arns[start : start + size]
        if start + size < len(arns):
            parsed["nextToken"] = str(start + size)
        else:
            parsed.pop("nextToken", None)

    def _describe_tasks(self, parsed: dict[str, Any], context: dict, **_: Any) -> None:
        requested = context.get("test_params", {}).get("tasks", [])
        assert len(requested) <= 100, f"DescribeTasks with {len(requested)} ARNs; ECS takes 100"
        self._version(parsed.get("tasks", []), "taskArn")
        returned = {task["taskArn"] for task in parsed.get("tasks", [])}
        parsed["failures"] = [
            {"arn": arn, "reason": "MISSING"} for arn in requested if arn not in returned
        ]

    def _describe_container_instances(self, parsed: dict[str, Any], context: dict, **_: Any):
        requested = context.get("test_params", {}).get("containerInstances", [])
        assert len(requested) <= 100
        self._version(parsed.get("containerInstances", []), "containerInstanceArn")
        returned = {each["containerInstanceArn"] for each in parsed.get("containerInstances", [])}
        # moto names a missing instance by its ID; ECS by the ARN that was asked for.
        parsed["failures"] = [
            {"arn": arn, "reason": "MISSING"} for arn in requested if arn not in returned
        ]

    def _version(self, objects: list[dict[str, Any]], key: str) -> None:
        for each in objects:
            version = self.versions.get(each[key])
            if version is None:
                each.pop("version", None)
            else:
                each["version"] = version
