"""ComputeResource and ClusterComputeResource: a standalone host's or a cluster's hosts and root
resource pool."""

from __future__ import annotations

from vismock.mockserver.objects.managed_entity import ManagedEntity


class ComputeResource(ManagedEntity):
    """``host`` (references) and ``resourcePool`` (its root pool)."""

    vim_type = "ComputeResource"

    def members(self) -> list[ManagedEntity]:
        """What vCenter counts as its children: its hosts, then its root resource pool."""
        refs = [*self.get("host", ()), self.get("resourcePool")]
        found = [self.state.find(ref.value) for ref in refs if ref is not None]
        return [entity for entity in found if isinstance(entity, ManagedEntity)]


class ClusterComputeResource(ComputeResource):
    vim_type = "ClusterComputeResource"
