# gunicorn's usual settings for the legacy baseline: sync workers, as many as gunicorn's docs
# advise (2 × cores + 1), nothing tuned beyond that. The address comes from LEGACY_BIND; the tests
# run fewer workers (LEGACY_WORKERS).
import multiprocessing
import os

bind = os.environ.get("LEGACY_BIND", "127.0.0.1:18083")
worker_class = "sync"
workers = int(os.environ.get("LEGACY_WORKERS", 2 * multiprocessing.cpu_count() + 1))
loglevel = "warning"
