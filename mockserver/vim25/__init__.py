"""vim25 from one model: its types (generated from pyVmomi), values, XML wire and checker.

``model()`` is the whole vim25 type model (:mod:`.typemodel`); :mod:`.values` holds vim25 values
(:class:`~.values.Data`, :class:`~.values.MoRef`); :mod:`.xml` renders them as vCenter writes them
and parses SOAP calls; :mod:`.check` checks a SOAP response against the model; :mod:`.pyvmomi`
converts to and from pyVmomi's objects.
"""

from vismock.mockserver.vim25.typemodel import DataType, EnumType, Field, ManagedType, Method, Model, model

__all__ = ["DataType", "EnumType", "Field", "ManagedType", "Method", "Model", "model"]
