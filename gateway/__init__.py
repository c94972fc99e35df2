"""The API gateway: one address in front of tenant and resource partitions (``python -m gateway``).

See docs/design/gateway.md: routing, identity forwarding, tenant assignment, merged lists.
"""
