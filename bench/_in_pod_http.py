"""HTTP latency from inside a pod (run by bench/service_bench.py as ``python3 -c <this file> A,B COUNT``).

Runs in the cluster's python image with the standard library only. GETs ``/`` on port 80 of each
target address in turn (A, B, A, B, ...: both see the same moment's load), each on a new TCP
connection — the case kube-proxy's DNAT costs most, a new conntrack entry per request — after a warm-up
of 20 each. Prints one JSON line: per target, the sorted latencies and the failures.
"""

import http.client
import json
import sys
import time

WARM_UP = 20
TIMEOUT_S = 5.0


def _get(address: str) -> float:
    started = time.perf_counter()
    connection = http.client.HTTPConnection(address, 80, timeout=TIMEOUT_S)
    try:
        connection.request("GET", "/")
        reply = connection.getresponse()
        reply.read()
        if reply.status != 200:
            raise OSError(f"status {reply.status}")
    finally:
        connection.close()
    return time.perf_counter() - started


def main() -> None:
    targets, count = sys.argv[1].split(","), int(sys.argv[2])
    latencies: dict[str, list[float]] = {t: [] for t in targets}
    failed = dict.fromkeys(targets, 0)
    for round_ in range(WARM_UP + count):
        for target in targets:
            try:
                took = _get(target)
            except OSError:
                failed[target] += 1
                continue
            if round_ >= WARM_UP:
                latencies[target].append(took)
    print(json.dumps({t: {"latencies_s": sorted(latencies[t]), "failed": failed[t]} for t in targets}),
          flush=True)


main()
