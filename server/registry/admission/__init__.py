"""Admission: the ordered chain of plugins every write passes (`chain`), the plugin interfaces
(`interface`) and the plugins that need only the registry (namespace and tenant lifecycle,
priority, SystemDaemonSet, PodSecurity, ResourceQuota). Plugins that need the authorizer (RBAC
escalation) live with it in `server.authz` and are handed to the chain by the server."""
