"""Wire protocols for exec, attach and port-forward streams.

Why this package exists: the API server's pod proxy and the kubelet's streaming server both have to speak
exactly what stock kubectl and the official python client speak — the `channel.k8s.io` WebSocket framing,
SPDY/3.1 (with its zlib header dictionary), and port-forward tunnelled as SPDY inside WebSocket messages
(KEP-4006).  The code here is pure protocol: it depends only on the standard library and works over any
(reader, writer) byte pair or any aiohttp-shaped WebSocket, so neither side imports the other.

It is a top-level package of its own (named after upstream's k8s.io/apimachinery/pkg/util/httpstream,
which holds the same SPDY and WebSocket stream code) because the API server, the kubelet and the CRI
stream client all use it and it depends on none of them.
"""
