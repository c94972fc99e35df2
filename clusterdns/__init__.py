"""Cluster DNS: answers Service and pod names from the API (``python3 -m clusterdns``).

It runs inside pods of the ``clusterdns`` image (Debian's python3 and python3-dnslib), so it imports
only the standard library and ``dnslib`` — none of this repository's other packages.
"""
