"""vismock: a schema-driven codec and mock vCenter for the BMC VIS adapter."""

from vismock.errors import VismockError

__all__ = ["VismockError", "__version__"]
__version__ = "0.1.0"
