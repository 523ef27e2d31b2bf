"""pytest plugin for vismock (registered under the pytest11 entry point). Being written."""
