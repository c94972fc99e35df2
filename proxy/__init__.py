"""kube-proxy: programs the node's iptables so Service addresses reach ready endpoints
(``python -m proxy``)."""
