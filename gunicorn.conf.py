"""gunicorn's settings for the portal, read from the working directory (the image's /app, or a
checkout) whenever gunicorn starts there. The image's command adds nothing else.

Threaded workers (gthread): each worker process accepts connections in a main loop and hands a
request to a thread only once it has data, and a thread that waits too long for more data hands
the connection back. So slow clients — a body or headers trickling in a byte every few seconds —
hold a connection, not the worker: with sync workers two such clients stalled a normal ingest POST
for 34 s and got the workers killed on timeout. tests/faults/test_slow_clients.py proves it.

WEB_CONCURRENCY (processes, gunicorn's own variable) × WEB_THREADS (threads per process) requests
run at once; each thread keeps its own database connection (CONN_MAX_AGE), so budget PostgreSQL's
max_connections for WEB_CONCURRENCY × WEB_THREADS per web container. PORT sets the port (gunicorn
binds 0.0.0.0:$PORT).
"""

import os

worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "8"))
# Behind a load balancer that keeps connections open, a little longer than the usual 2 s.
keepalive = 5
