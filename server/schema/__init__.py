"""Objects against their OpenAPI schemas: validation, defaulting and the published OpenAPI documents.

The definitions themselves are shared vocabulary (`apis.schemas`, Arktos's additions in
`apis.arktos_schemas`); what the API server does with them lives here: `validation` (the compiled
validator, with `schema_walk` for upstream's messages and `name_rules`, `size_limits`,
`semantic_rules`, `vm_rules` for what a schema cannot say), `defaults` (upstream's defaulting), and
`openapi` / `openapi_proto` (``/openapi/v2`` and ``/openapi/v3`` as kubectl reads them).
"""
