"""Authentication: who a request comes from (x509 client certificates, static tokens, SA JWTs)."""
