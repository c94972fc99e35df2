"""The kubelet's HTTPS streaming server (port 10250): container logs, exec, attach and port-forward.

Upstream's kubelet serves ``/containerLogs``, ``/exec``, ``/attach`` and ``/portForward`` for the pods of its
node; the API server proxies ``pods/log``, ``pods/exec``, ``pods/attach`` and ``pods/portforward`` to it.
Arktos puts the tenant in the path (``/exec/{tenant}/{namespace}/{pod}/{container}``).  Logs come from the
CRI log files; exec/attach/port-forward are bridged onto the CRI runtime's own streaming URLs
(`cri.stream_client`), so every client transport (WebSocket v4/v5, the KEP-4006 tunnel, SPDY) works against
a runtime that only speaks SPDY.  `server.StreamingServer` is what `kubelet.kubelet` starts.
"""
