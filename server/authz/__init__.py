"""Authorization: RBAC with Arktos's tenant rule, the node authorizer, and access reviews."""
