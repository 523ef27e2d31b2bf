"""The root of every error vismock raises on purpose."""


class VismockError(ValueError):
    """Base class of vismock's errors; a ValueError, so callers may catch either."""
