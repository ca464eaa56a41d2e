"""Apply the module for real (tofu + hashicorp/aws against moto), assert, destroy, assert empty."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pytest_terraform import terraform

from ecs_state.events import CONTAINER_INSTANCE, TASK
from tests.conftest import environment
from tests.module.emulated import (
    DEAD_LETTER_QUEUE,
    EVENTS,
    EXPECTED_ACTIONS,
    Aws,
    assert_plan_is_clean,
    matching_events,
    package_sources,
    planned_changes,
    run_cli,
    run_zip,
    statements_by_sid,
    zip_members,
)
from tests.support.tables import create_table, local_client, table_definition
from tools import package

pytestmark = pytest.mark.module

TASK_EVENTS = {"ec2-task-running", "fargate-task-stopped", "fargate-spot-task-pending"}
INSTANCE_EVENTS = {"container-instance-active", "container-instance-deregistered"}


def outputs(fixture, name="module"):
    return fixture.outputs[name]["value"]


def destroy(fixture, aws: Aws | None = None, **variables):
    """Destroy through the same runner; TF_VAR_* first relaxes what blocks a destroy.

    Given `aws`, the created dead-letter queue leaves the state and is deleted through the
    API first (DEAD_LETTER_QUEUE); test_fargate_mode destroys its queue through the provider.
    """
    with environment(**{f"TF_VAR_{key}": value for key, value in variables.items()}):
        if variables:
            fixture.terraform.apply()
        if aws is not None:
            state = f"-state={fixture.terraform.state_path}"
            removed = run_cli(fixture, "state", "rm", state, *DEAD_LETTER_QUEUE)
            assert removed.returncode == 0, removed.stderr
            aws.sqs.delete_queue(QueueUrl=outputs(fixture)["dead_letter_queue_url"])
        fixture.terraform.destroy()


def assert_table(aws, name, kind, *, ttl: bool, deletion_protection: bool):
    """The applied table has the key schema and index that the package's schema states
    (ecs_state.events), the one the reader, the reconciler and the tests rely on."""
    table = aws.table(name)
    expected = table_definition(kind)
    assert table["KeySchema"] == expected["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(
        expected["AttributeDefinitions"], key=str
    )
    ((index,), (expected_index,)) = (
        table["GlobalSecondaryIndexes"],
        expected["GlobalSecondaryIndexes"],
    )
    assert (index["IndexName"], index["KeySchema"]) == (
        expected_index["IndexName"],
        expected_index["KeySchema"],
    )
    projection = index["Projection"]
    assert projection["ProjectionType"] == "INCLUDE"
    assert {"version", "_missingSince"} <= set(projection["NonKeyAttributes"])
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["DeletionProtectionEnabled"] is deletion_protection
    assert aws.pitr(name) == "ENABLED"
    expected_ttl = (
        {"TimeToLiveStatus": "ENABLED", "AttributeName": "_expiresAt"}
        if ttl
        else {"TimeToLiveStatus": "DISABLED"}
    )
    assert {k: v for k, v in aws.ttl(name).items() if k in expected_ttl} == expected_ttl


def assert_delivery(aws, out, *, environment):
    function = aws.awslambda.get_function_configuration(FunctionName=out["function_name"])
    assert function["Handler"] == "ecs_state.handler.lambda_handler"
    assert function["Runtime"] == "python3.13"
    assert function["Environment"]["Variables"] == environment
    invoke = aws.awslambda.get_function_event_invoke_config(FunctionName=out["function_name"])
    assert (invoke["MaximumRetryAttempts"], invoke["MaximumEventAgeInSeconds"]) == (2, 21600)
    assert invoke["DestinationConfig"]["OnFailure"]["Destination"] == out["dead_letter_queue_arn"]

    (target,) = aws.events.list_targets_by_rule(Rule=out["rule_name"])["Targets"]
    assert target["Arn"] == out["function_arn"]
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    assert target["DeadLetterConfig"] == {"Arn": out["dead_letter_queue_arn"]}

    permission = json.loads(aws.awslambda.get_policy(FunctionName=out["function_name"])["Policy"])
    (statement,) = permission["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == out["rule_arn"]

    queue = aws.sqs.get_queue_attributes(
        QueueUrl=out["dead_letter_queue_url"], AttributeNames=["All"]
    )
    attributes = queue["Attributes"]
    assert attributes["SqsManagedSseEnabled"] == "true"
    queue_policy = json.loads(attributes["Policy"])
    allowed = {s["Sid"]: s for s in queue_policy["Statement"]}
    assert allowed["EventBridgeRuleOnly"]["Condition"] == {
        "ArnEquals": {"aws:SourceArn": out["rule_arn"]}
    }
    principals = allowed["FunctionRolesOnly"]["Principal"]["AWS"]
    assert sorted([principals] if isinstance(principals, str) else principals) == sorted(
        [out["role_arn"], out["reconciler_role_arn"]]
    )
    assert allowed["DenyInsecureTransport"]["Effect"] == "Deny"

    groups = aws.logs.describe_log_groups(logGroupNamePrefix=out["log_group_name"])["logGroups"]
    (group,) = [g for g in groups if g["logGroupName"] == out["log_group_name"]]
    assert group["retentionInDays"] == 30


def assert_least_privilege(aws, out, table_arns):
    statements = statements_by_sid(aws.role_policy(out["role_arn"]))
    assert {sid: actions for sid, (actions, _) in statements.items()} == EXPECTED_ACTIONS
    assert statements["PutStateItems"][1] == sorted(table_arns)
    assert statements["SendFailuresToDeadLetterQueue"][1] == [out["dead_letter_queue_arn"]]
    log_group_arn = statements["WriteOwnLogs"][1][0]
    assert log_group_arn.endswith(f":log-group:{out['log_group_name']}:*")


RECONCILER_COMMON_ACTIONS = {
    "ReadAndWriteStateItems": [
        "dynamodb:BatchGetItem",
        "dynamodb:DescribeTable",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
    ],
    "QueryStatusIndex": ["dynamodb:Query"],
    "WriteOwnLogs": ["logs:CreateLogStream", "logs:PutLogEvents"],
    "SendFailuresToDeadLetterQueue": ["sqs:SendMessage"],
}


def assert_reconciler(aws, out, *, environment, table_arns, actions):
    """The reconciler: same package, own role with exactly its actions, on a schedule."""
    function = aws.awslambda.get_function_configuration(
        FunctionName=out["reconciler_function_name"]
    )
    assert function["Handler"] == "ecs_state.reconcile.lambda_handler"
    assert function["Role"] == out["reconciler_role_arn"] != out["role_arn"]
    assert function["Environment"]["Variables"] == environment
    event_function = aws.awslambda.get_function_configuration(FunctionName=out["function_name"])
    assert function["CodeSha256"] == event_function["CodeSha256"]

    statements = statements_by_sid(
        aws.role_policy(out["reconciler_role_arn"], "ecs-state-reconcile")
    )
    assert {sid: granted for sid, (granted, _) in statements.items()} == {
        **RECONCILER_COMMON_ACTIONS,
        **actions,
    }
    assert statements["ReadAndWriteStateItems"][1] == sorted(table_arns)
    assert statements["QueryStatusIndex"][1] == sorted(
        f"{arn}/index/cluster-status" for arn in table_arns
    )

    rule = aws.events.describe_rule(Name=out["reconciler_schedule_rule_name"])
    assert rule["ScheduleExpression"] == "rate(20 minutes)"
    (target,) = aws.events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == out["reconciler_function_arn"]


# Deletion protection is on here, so only the test body (which turns it off) can destroy.
@terraform("ec2", teardown=terraform.TEARDOWN_IGNORE)
def test_ec2_mode(moto, ec2, local_tables):
    aws = Aws(moto.endpoint)
    out = outputs(ec2)
    assert (out["task_table_name"], out["container_instance_table_name"]) == (
        "t-ec2-tasks",
        "t-ec2-container-instances",
    )
    assert_table(aws, out["task_table_name"], TASK, ttl=True, deletion_protection=True)
    assert_table(
        aws,
        out["container_instance_table_name"],
        CONTAINER_INSTANCE,
        ttl=True,
        deletion_protection=True,
    )
    assert (out["task_index_name"], out["container_instance_index_name"]) == (
        "cluster-status",
        "cluster-status",
    )
    for name, stream in (
        (out["task_table_name"], out["task_table_stream_arn"]),
        (out["container_instance_table_name"], out["container_instance_table_stream_arn"]),
    ):
        table = aws.table(name)
        assert table["StreamSpecification"] == {
            "StreamEnabled": True,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        }
        assert stream == table["LatestStreamArn"]
    # The root module tagged both tables through the name outputs in the same apply: the
    # outputs carried the dependency on the tables, or the tags would have raced them.
    for arn in (out["task_table_arn"], out["container_instance_table_arn"]):
        tags = aws.dynamodb.list_tags_of_resource(ResourceArn=arn)["Tags"]
        assert {"Key": "consumer", "Value": "same-apply"} in tags, tags
    environment = {
        "LAUNCH_TYPE": "EC2",
        "TASK_TABLE_NAME": "t-ec2-tasks",
        "CONTAINER_INSTANCE_TABLE_NAME": "t-ec2-container-instances",
        "TTL_DAYS": "30",
        "REDACT_OVERRIDES": "true",
        "LOG_LEVEL": "INFO",
    }
    assert_delivery(aws, out, environment=environment)
    assert_least_privilege(aws, out, [out["task_table_arn"], out["container_instance_table_arn"]])
    assert_reconciler(
        aws,
        out,
        environment={
            **environment,
            "CLUSTER_ARNS": "arn:aws:ecs:us-east-1:111122223333:cluster/default",
            "ECS_MAX_REQUESTS_PER_SECOND": "5",
        },
        table_arns=[out["task_table_arn"], out["container_instance_table_arn"]],
        actions={
            "ListContainerInstances": ["ecs:ListContainerInstances"],
            "ListAndDescribeClusterResources": [
                "ecs:DescribeContainerInstances",
                "ecs:DescribeTasks",
                "ecs:ListTasks",
            ],
        },
    )
    assert_plan_is_clean(ec2)

    # A rule change plans the rule (and what names the clusters), never the queue policy:
    # its document is built from values known at plan time.
    changed = planned_changes(ec2, cluster="other")
    assert "module.ecs_state.aws_cloudwatch_event_rule.ecs" in changed, changed
    assert not [address for address in changed if "aws_sqs_queue_policy" in address], changed

    # Switching to FARGATE while the container-instance table is protected is refused at
    # plan, before anything changes.
    switch = run_cli(ec2, "plan", f"-state={ec2.terraform.state_path}", launch_type="FARGATE")
    assert switch.returncode == 1, switch.stdout
    assert "t-ec2-container-instances of an earlier EC2 apply" in " ".join(switch.stderr.split())

    # The cluster filter keeps this cluster's tasks and instances, of every launch type.
    pattern = aws.events.describe_rule(Name=out["rule_name"])["EventPattern"]
    assert "launchType" not in pattern
    assert matching_events(pattern) == TASK_EVENTS | INSTANCE_EVENTS

    # What ships is what is tested: the committed zip, which the function was created from,
    # against DynamoDB Local.
    zip_path = os.path.normpath(Path(ec2.terraform.module_dir) / out["function_zip_path"])
    assert zip_path == str(package.PACKAGE)
    deployed = aws.awslambda.get_function_configuration(FunctionName=out["function_name"])
    assert deployed["CodeSha256"] == package.base64_sha256(package.PACKAGE.read_bytes())
    assert zip_members(zip_path) == package_sources()
    local = local_client(local_tables["endpoint"])
    for name, kind in (
        (environment["TASK_TABLE_NAME"], TASK),
        (environment["CONTAINER_INSTANCE_TABLE_NAME"], CONTAINER_INSTANCE),
    ):
        create_table(local, name, kind)
    sent = [
        EVENTS / f"{name}.json"
        for name in (
            "ec2-task-running",
            "container-instance-active",
            "container-instance-deregistered",
            "container-instance-active",
            "service-action",
        )
    ]
    results = run_zip(zip_path, environment, local_tables["endpoint"], sent)
    assert [r["outcome"] for r in results] == [
        "applied",
        "applied",
        "applied",
        "stale-or-duplicate",
        "raised",
    ]
    assert "unknown detail-type 'ECS Service Action'" in results[-1]["error"]
    instance = local.scan(TableName=environment["CONTAINER_INSTANCE_TABLE_NAME"])["Items"]
    assert [(i["status"]["S"], i["version"]["N"]) for i in instance] == [("INACTIVE", "14")]
    assert "_expiresAt" in instance[0]

    destroy(ec2, aws, deletion_protection_enabled="false")
    assert aws.leftovers("t-ec2") == {}


# The one test that destroys a created dead-letter queue through the provider.
@terraform("fargate")
def test_fargate_mode(moto, fargate):
    aws = Aws(moto.endpoint)
    out = outputs(fargate)
    assert out["container_instance_table_name"] is None
    assert out["container_instance_table_arn"] is None
    assert aws.dynamodb.list_tables()["TableNames"].count("t-fargate-tasks") == 1
    assert not [
        t for t in aws.dynamodb.list_tables()["TableNames"] if t.startswith("t-fargate-container")
    ]
    assert_table(aws, "t-fargate-tasks", TASK, ttl=False, deletion_protection=False)
    environment = {
        "LAUNCH_TYPE": "FARGATE",
        "TASK_TABLE_NAME": "t-fargate-tasks",
        "TTL_DAYS": "0",
        "REDACT_OVERRIDES": "true",
        "LOG_LEVEL": "INFO",
    }
    assert_delivery(aws, out, environment=environment)
    function = aws.awslambda.get_function_configuration(FunctionName=out["function_name"])
    assert function["Architectures"] == ["x86_64"] and function["TracingConfig"] == {
        "Mode": "Active"
    }

    assert_reconciler(
        aws,
        out,
        environment={**environment, "CLUSTER_ARNS": "", "ECS_MAX_REQUESTS_PER_SECOND": "5"},
        table_arns=[out["task_table_arn"]],
        actions={
            "FindClusters": ["ecs:ListClusters"],
            "ListAndDescribeClusterResources": ["ecs:DescribeTasks", "ecs:ListTasks"],
            "XRayTraces": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
        },
    )
    assert_plan_is_clean(fargate)

    statements = statements_by_sid(aws.role_policy(out["role_arn"]))
    assert statements.pop("XRayTraces")[0] == ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
    assert {sid: actions for sid, (actions, _) in statements.items()} == EXPECTED_ACTIONS
    assert statements["PutStateItems"][1] == [out["task_table_arn"]]

    # No cluster filter: every cluster's tasks, no container-instance events.
    pattern = aws.events.describe_rule(Name=out["rule_name"])["EventPattern"]
    assert matching_events(pattern) == TASK_EVENTS | {"task-other-cluster"}

    destroy(fargate)
    assert aws.leftovers("t-fargate") == {}


@pytest.fixture
def given_queue(moto):
    """The dead-letter queue the shared and existing fixtures are given by ARN."""
    sqs = Aws(moto.endpoint).sqs
    url = sqs.create_queue(QueueName="t-given-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    assert arn["QueueArn"] == "arn:aws:sqs:us-east-1:123456789012:t-given-dlq"
    return url


@terraform("shared")
def test_two_instances_share_one_task_table(moto, given_queue, shared):
    aws = Aws(moto.endpoint)
    assert_plan_is_clean(shared)
    ec2_out, fargate_out = outputs(shared, "ec2_cluster"), outputs(shared, "fargate_cluster")
    assert ec2_out["task_table_name"] == fargate_out["task_table_name"] == "t-shared-tasks"
    assert ec2_out["task_table_arn"] == fargate_out["task_table_arn"]
    assert sorted(
        t for t in aws.dynamodb.list_tables()["TableNames"] if t.startswith("t-shared")
    ) == [
        "t-shared-ec2-container-instances",
        "t-shared-tasks",
    ]
    for out in (ec2_out, fargate_out):
        statements = statements_by_sid(aws.role_policy(out["role_arn"]))
        assert "t-shared-tasks" in statements["PutStateItems"][1][-1]
    assert (
        matching_events(aws.events.describe_rule(Name=ec2_out["rule_name"])["EventPattern"])
        == set()
    )
    assert (
        matching_events(aws.events.describe_rule(Name=fargate_out["rule_name"])["EventPattern"])
        == set()
    )

    destroy(shared)
    assert aws.leftovers("t-shared") == {}


@pytest.fixture
def legacy_tables(moto):
    aws = Aws(moto.endpoint)
    create_table(aws.dynamodb, "legacy-tasks", TASK, index=False)
    create_table(aws.dynamodb, "legacy-instances", CONTAINER_INSTANCE, index=False)
    yield aws
    for name in ("legacy-tasks", "legacy-instances"):
        aws.dynamodb.delete_table(TableName=name)


@terraform("existing")
def test_existing_tables_given_by_name(moto, legacy_tables, given_queue, existing):
    assert_plan_is_clean(existing)
    aws = legacy_tables
    out = outputs(existing)
    assert out["task_table_arn"] == aws.table("legacy-tasks")["TableArn"]
    assert out["container_instance_table_arn"] == aws.table("legacy-instances")["TableArn"]
    assert not [t for t in aws.dynamodb.list_tables()["TableNames"] if t.startswith("t-existing")]
    assert_least_privilege(aws, out, [out["task_table_arn"], out["container_instance_table_arn"]])

    destroy(existing)
    assert aws.leftovers("t-existing") == {}
    assert {"legacy-tasks", "legacy-instances"} <= set(aws.dynamodb.list_tables()["TableNames"]), (
        "destroy must leave tables it did not create"
    )
