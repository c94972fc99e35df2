"""Sampling profiles of benchmark processes with py-spy (PyPI), and where their time goes, as text.

py-spy samples a running CPython process from outside (no instrumentation, so the profile shows
the rates the bench measures, unlike cProfile's several-fold slowdown). Benchmarks that take
``--py-spy DIR`` attach it to their processes for the measured window (`attach`, then `stop`),
sampling only the thread that holds the GIL (``--gil``: Python CPU time, not threads waiting or
the event loop idle in epoll), write collapsed stacks (py-spy's "raw" format: ``frame;frame;frame
COUNT`` per line) into DIR, and print `report`: the share of samples per function, inclusive
(the function and what it calls) and exclusive (the function itself), so
docs/design/api-server.md can say where a request's time goes. Install: ``.venv/bin/pip install
py-spy``.

    .venv/bin/python bench/py_spy.py STACKS.txt [--top N] [--focus SUBSTRING] [--phases]
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

RATE_HZ = 250
REPO_ROOT = Path(__file__).resolve().parents[1]
_LOCATION = re.compile(r" \(([^()]*):\d+\)$")


def _binary() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise RuntimeError("py-spy is not installed: .venv/bin/pip install py-spy")
    return found


def attach(pid: int, out: Path) -> subprocess.Popen[bytes]:
    """Samples process ``pid`` into ``out`` until `stop` (or the process exits)."""
    return subprocess.Popen([_binary(), "record", "--nonblocking", "--gil", "-r", str(RATE_HZ), "-f", "raw",
                             "-o", str(out), "--pid", str(pid)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(sampler: subprocess.Popen[bytes]) -> None:
    """Ends a sampler as Ctrl-C does, so it writes its file."""
    if sampler.poll() is None:
        sampler.send_signal(signal.SIGINT)
    try:
        sampler.wait(timeout=30)
    except subprocess.TimeoutExpired:
        sampler.kill()
        sampler.wait(timeout=10)


def _function(frame: str) -> str:
    """``name (path/to/module.py:123)`` → ``name (module/path.py)``, lines folded together."""
    match = _LOCATION.search(frame)
    if match is None:
        return frame
    path = match.group(1).removeprefix(f"{REPO_ROOT}/")
    for marker in ("/site-packages/", "/lib/python3.11/"):
        path = path.rpartition(marker)[2]
    return f"{frame[:match.start()]} ({path})"


def profile(stacks_path: Path, focus: str = "") -> tuple[int, Counter[str], Counter[str]]:
    """(samples, inclusive samples per function, exclusive samples per function)."""
    total = 0
    inclusive: Counter[str] = Counter()
    exclusive: Counter[str] = Counter()
    for line in stacks_path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = [_function(f) for f in stack.split(";")]
        if focus and not any(focus in f for f in frames):
            continue
        count = int(count_text)
        total += count
        for function in set(frames):
            inclusive[function] += count
        exclusive[frames[-1]] += count
    return total, inclusive, exclusive


# Where an API request's time goes, by phase: a sample belongs to the first phase (in this order)
# that one of its frames names. Handler-level phases come first because the dispatcher's frames
# (flow control wraps the handler) are on every request's stack.
REQUEST_PHASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("storage: SQLite writer thread (apply, commit)", ("LogWriter._run",)),
    ("storage: SQLite reads on the read pool", ("sqlite_reads.py", "concurrent/futures/thread.py")),
    ("watch cache: decode the committed value, index, fan-out", ("server/watchcache.py",
                                                                  "server/handlers/watch.py")),
    ("validation: compiled schema + semantic rules", ("<validator", "server/schema/validation.py",
                                                      "semantic_rules.py", "name_rules.py",
                                                      "schema_walk.py")),
    ("defaults", ("server/schema/defaults.py",)),
    ("admission (PodSecurity, quota, ...)", ("registry/admission.py", "pod_security", "podsecurity",
                                             "quota")),
    ("storage: hand-off to the writer (transform, submit, await)", ("server/storage/",)),
    ("registry: prepare, uid/timestamps, keys, update closure", ("server/registry/", "apis/meta.py")),
    ("request body: read + decode", ("read_body (", "decode_body (", "typed_bodies.py",
                                     "aiohttp/streams.py")),
    ("response: encode + write", ("respond (", "_answer (", "finish_response", "http_writer.py",
                                  "web_response.py", "encode (server/handlers/codec.py)")),
    ("dispatch and handler glue: request info, authn/authz, flow control, metrics, options",
     ("server/app.py", "server/flowcontrol/", "server/request_info.py", "server/access.py",
      "server/auth", "server/metrics.py", "server/handlers/")),
    ("aiohttp: HTTP parsing, request objects", ("aiohttp/", "yarl/", "multidict/")),
    ("event loop (uvloop callbacks, socket I/O)", ("Runner.run",)),
)


def phases(stacks_path: Path, rules: tuple[tuple[str, tuple[str, ...]], ...] = REQUEST_PHASES
           ) -> tuple[int, Counter[str]]:
    """(samples, samples per phase) — each sample in the first phase one of its frames names."""
    total = 0
    found: Counter[str] = Counter()
    for line in stacks_path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = [_function(f) for f in stack.split(";")]
        total += int(count_text)
        phase = next((name for name, marks in rules if any(m in f for f in frames for m in marks)), "other")
        found[phase] += int(count_text)
    return total, found


def report_phases(stacks_path: Path, title: str) -> None:
    total, found = phases(stacks_path)
    print(f"# where the API server's Python time went, {title} ({total} samples):")
    for name, count in found.most_common():
        print(f"#   {100 * count / max(total, 1):5.1f}%  {name}")


def report(stacks_path: Path, title: str, *, top: int = 25, focus: str = "") -> None:
    total, inclusive, exclusive = profile(stacks_path, focus)
    print(f"# py-spy {title}: {total} samples at {RATE_HZ} Hz ({stacks_path})")
    if not total:
        return
    print("#   inclusive  exclusive  function")
    for function, count in inclusive.most_common(top):
        print(f"#   {100 * count / total:8.1f}%  {100 * exclusive[function] / total:8.1f}%  {function}")
    print("#   top exclusive:")
    for function, count in exclusive.most_common(top):
        print(f"#   {100 * inclusive[function] / total:8.1f}%  {100 * count / total:8.1f}%  {function}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stacks", type=Path)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--focus", default="", help="only stacks with a frame containing this text")
    parser.add_argument("--phases", action="store_true", help="API server samples by request phase")
    args = parser.parse_args()
    if args.phases:
        report_phases(args.stacks, args.stacks.name)
    else:
        report(args.stacks, args.stacks.name, top=args.top, focus=args.focus)


if __name__ == "__main__":
    main()
