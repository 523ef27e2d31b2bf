"""The mock's faces: how it speaks to each kind of client.

* :mod:`.adapter`: ``POST /adapter``, the VIS adapter's XML envelopes;
* :mod:`.soap`: ``/sdk``, vim25 SOAP for pyVmomi, govc and govmomi;
* :mod:`.admin`: ``/_vismock/``, the JSON admin API.

:mod:`.common` holds what they share: the one path of a request (body cap, error guard, fault
rules, journal, remembered answers).
"""
