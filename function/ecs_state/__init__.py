"""Keep the latest state of Amazon ECS tasks and container instances in DynamoDB.

The Lambda entry point is ``ecs_state.handler.lambda_handler``. Everything else in
this package is pure functions over plain data, so it can be tested without AWS.
"""
