"""HTTP handlers of the API server: REST verbs, watch streams, discovery and codecs."""
