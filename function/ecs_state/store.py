"""The one DynamoDB request an event costs: a conditional PutItem."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from ecs_state.config import Settings

if TYPE_CHECKING:  # stubs of the lint environment; the Lambda runtime has boto3 alone
    from mypy_boto3_dynamodb import DynamoDBClient


@dataclass(frozen=True)
class Condition:
    """A condition expression together with the placeholders it uses, built in one place.

    DynamoDB refuses placeholders that the expression does not use, so each constructor
    names exactly the attributes and values its expression refers to.
    """

    expression: str
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def insert_or_newer(cls, key: str, version: int) -> Condition:
        """No record yet, or the stored one is older: the usual rule for an event."""
        return cls(
            "attribute_not_exists(#pk) OR #version < :version",
            {"#pk": key, "#version": "version"},
            {":version": {"N": str(version)}},
        )

    @classmethod
    def newer_only(cls, version: int) -> Condition:
        """Update an existing, older record but never create one (see items.condition)."""
        return cls(
            "#version < :version", {"#version": "version"}, {":version": {"N": str(version)}}
        )

    def request(self) -> dict[str, Any]:
        """The condition's part of a PutItem or UpdateItem request."""
        request: dict[str, Any] = {"ConditionExpression": self.expression}
        if self.names:
            request["ExpressionAttributeNames"] = self.names
        if self.values:
            request["ExpressionAttributeValues"] = self.values
        return request


def dynamodb_client(settings: Settings) -> DynamoDBClient:
    """A DynamoDB client with bounded standard-mode retries.

    `total_max_attempts` counts the first try too (botocore's `max_attempts` would count
    retries only). With 5 attempts, 2 s to connect and 3 s to read, the worst case is
    about 5 x 5 s plus at most 15 s of backoff: inside the module's 60 s default timeout,
    so an exhausted invocation raises instead of timing out.

    boto3's default configuration chain is otherwise untouched, so region, credentials
    and AWS_ENDPOINT_URL_DYNAMODB (a local emulator) come from the environment.
    """
    config = Config(
        retries={"mode": "standard", "total_max_attempts": settings.dynamodb_max_attempts},
        connect_timeout=2,
        read_timeout=3,
    )
    return boto3.client("dynamodb", config=config)


def conditional_put(
    client: DynamoDBClient, table: str, item: dict[str, Any], condition: Condition
) -> bool:
    """Write the item if the condition holds. True if written, False if stale or duplicate.

    No read happens first: the condition is checked by DynamoDB atomically with the
    write, so two concurrent writers of the same record cannot both win with the older
    version losing last.
    """
    try:
        client.put_item(TableName=table, Item=item, **condition.request())
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True
