"""Network: what virtual machines' network adapters connect to."""

from __future__ import annotations

from vismock.mockserver.objects.managed_entity import ManagedEntity


class Network(ManagedEntity):
    vim_type = "Network"
