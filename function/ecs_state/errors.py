"""Exception types raised by this package."""


class ConfigError(RuntimeError):
    """The function's environment is invalid; raised at start, before any event."""


class InvalidEventError(ValueError):
    """An event cannot be stored. The message names the problem; nothing was written.

    Raising it makes the invocation fail, so Lambda's asynchronous retries and the
    dead-letter queue keep the event for inspection instead of dropping it silently.
    """
