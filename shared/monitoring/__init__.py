"""Monitoring: Prometheus metrics that stay right across Crier's many processes, and structured logs.

Crier runs as several processes at once: gunicorn's API workers, Celery workers (and a prefork pool's
children), one or more schedulers. What each number is decides where it comes from:

- Things that happen — a publish attempt's outcome, how late a delivery went out, a failed token refresh,
  a failed metrics collection, a delivery missed, a process `crier up` restarted — are counted by the
  process they happen in, at that moment (`recording`). prometheus_client's multiprocess mode keeps each
  process's counts in a file of its own in one folder per host (`CRIER_PROMETHEUS_DIR`; the data
  directory's `prometheus/` by default, which `crier up`'s processes already share; a volume in docker
  compose), and the API's `/metrics` adds up every file in it. A file outlives its process and is never
  deleted, so a restarted worker takes nothing away: a counter never goes down, and Prometheus's rate()
  sees no false reset.
- What the queue holds right now is read from the database when Prometheus scrapes (the API's /metrics,
  through shared.deliveries.overview): the same answer from every API replica, whatever process moved the
  deliveries, and cheap, because it counts only deliveries still on their way, through indexes, never the
  publishing history.

Counting publish outcomes from the publish_attempts table at scrape time was the other way to be right
across processes. It was not taken: each scrape would read the whole publishing history; a lateness
histogram over "recent" deliveries would shrink as they age out, which no Prometheus histogram may do;
failed token refreshes and collections leave no row to count; and the counts would stay monotonic only for
as long as no feature ever deleted an attempt (the foreign keys already cascade from channels).
"""
