"""Small REST storages beside the generic store: the handlers of subresources (status, scale,
finalize, binding, eviction, action, token, log/exec/attach/portforward) and of resources that are
not stored (reviews). The interfaces are in `server.registry.rest.interface`."""
