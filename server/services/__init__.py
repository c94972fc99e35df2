"""Services in the API server: ClusterIP and node port allocation, its repair loop, and the
``kubernetes`` Service with the API servers as its endpoints."""
