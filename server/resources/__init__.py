"""The resources this API server serves: the built-in catalogue (`builtin`) and the discovery
documents derived from a catalogue (`discovery`). The catalogue's data types are shared vocabulary
(`apis.catalogue`)."""
