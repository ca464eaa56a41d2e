"""Plain JSON values to DynamoDB's typed attribute format, checked against its limits.

The handler and the reconciler both write items in the low-level client's format; this
module is the one place that knows what DynamoDB accepts and how it counts item size.
"""

from __future__ import annotations

from decimal import Context, Decimal, InvalidOperation
from typing import Any

from ecs_state.errors import InvalidEventError

# DynamoDB's documented limits.
MAX_ITEM_BYTES = 400 * 1024
MAX_DEPTH = 32
MAX_NUMBER_DIGITS = 38
MAX_NUMBER_EXPONENT = 125  # magnitude below 1E+126
MIN_NUMBER_EXPONENT = -130  # magnitude at least 1E-130
_EXACT = Context(prec=100)


def to_attribute(value: Any, path: str, depth: int = 1) -> dict[str, Any]:
    """A JSON value as a DynamoDB attribute value; lists and maps are kept as L and M."""
    if depth > MAX_DEPTH:
        raise InvalidEventError(f"{path} is nested deeper than DynamoDB's {MAX_DEPTH} levels")
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float, Decimal)):
        return {"N": _number(value, path)}
    if value is None:
        return {"NULL": True}
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str) or not key:
                raise InvalidEventError(f"{path} has an empty or non-text key {key!r}")
        return {
            "M": {
                key: to_attribute(item, f"{path}.{key}", depth + 1) for key, item in value.items()
            }
        }
    if isinstance(value, (list, tuple)):
        return {
            "L": [to_attribute(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
        }
    raise InvalidEventError(
        f"{path} has a value of type {type(value).__name__} that JSON cannot hold"
    )


def _number(value: int | float | Decimal, path: str) -> str:
    """Exact decimal text of a number, checked against DynamoDB's precision and range.

    Floats go through Decimal(repr(x)), the shortest text that reads back as the same
    float, so 0.1 is stored as 0.1 and not as 0.1000000000000000055511151231257827.
    """
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, ValueError):
        raise InvalidEventError(f"{path} is not a number: {value!r}") from None
    if not number.is_finite():
        raise InvalidEventError(f"{path} is {value!r}; DynamoDB stores only finite numbers")
    if number.is_zero():
        return "0"
    digits = len(number.normalize(_EXACT).as_tuple().digits)
    if digits > MAX_NUMBER_DIGITS:
        raise InvalidEventError(
            f"{path} has {digits} significant digits; DynamoDB keeps at most {MAX_NUMBER_DIGITS}"
        )
    if not MIN_NUMBER_EXPONENT <= number.adjusted() <= MAX_NUMBER_EXPONENT:
        raise InvalidEventError(f"{path} = {value!r} is outside DynamoDB's number range")
    return str(value) if isinstance(value, int) else str(number)


def item_size(item: dict[str, Any]) -> int:
    """Size of an item by DynamoDB's accounting, rounded up where it is approximate."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return len(inner) // 2 + 2
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + _value_size(element) for element in inner)
    if kind == "M":
        return 3 + sum(
            1 + len(key.encode()) + _value_size(element) for key, element in inner.items()
        )
    raise ValueError(f"unexpected attribute type {kind}")
