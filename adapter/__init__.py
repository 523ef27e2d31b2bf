"""The VIS adapter's operations, executed the way the adapter does."""
