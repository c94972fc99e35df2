"""The resources this API server serves: the built-in records (`builtin`), the strategies of the
resources whose behaviour differs from the generic store's default (`strategies`) and the
discovery documents derived from a catalogue (`discovery`). The record type and the run-time
catalogue are the registry's (`server.registry.record`, `server.registry.catalogue`); a resource's
names are shared vocabulary (`apis.catalogue`)."""
