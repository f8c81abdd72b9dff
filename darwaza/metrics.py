"""What the platform counts for operators, in Prometheus form (``/metrics``).

The metric objects live here, in the base, so any layer may count without knowing about
HTTP: the request middleware times requests by route template, the verification service
counts verdicts. Gauges that are read at scrape time (database pool, job queue) are
gathered by the composition root, which knows the engine and the queue.

With several worker processes each keeps its own figures. ``darwaza serve --workers N``
turns on prometheus-client's multiprocess mode for its workers (a fresh
``PROMETHEUS_MULTIPROC_DIR`` under the data directory), so one scrape adds up all of
them; the database pool gauge is the answering process's own.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

HTTP_REQUESTS: Final = Counter(
    "darwaza_http_requests_total",
    "HTTP requests answered, by route template, method and status code.",
    ["route", "method", "status"],
)
# Buckets around the goals: 20 ms for a verification, 50 ms for a page, 100 ms for a write.
HTTP_LATENCY: Final = Histogram(
    "darwaza_http_request_duration_seconds",
    "Time from the request's arrival to the end of its answer, by route template.",
    ["route", "method"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
VERIFICATIONS: Final = Counter(
    "darwaza_verifications_total",
    "Documents checked on the platform, by verdict and format.",
    ["verdict", "format"],
)

# On PostgreSQL: "memory" for a status answered from the server's copy of its shard,
# "shard" for a shard read to be kept, "database" for a status read on its own (memory
# off, or not listening). Few "shard" reads against many "memory" answers is health.
STATUS_LOOKUPS: Final = Counter(
    "darwaza_status_lookups_total",
    "Documents' statuses looked up for checks online, by where the answer came from.",
    ["source"],
)
STATUS_MEMORY_LOSSES: Final = Counter(
    "darwaza_status_memory_losses_total",
    "Times a server stopped hearing of status changes and forgot the statuses it kept.",
)


def default_registry() -> CollectorRegistry:
    """The process's registry, where the metrics above are kept."""
    return REGISTRY
