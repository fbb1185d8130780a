#!/bin/sh
# Container entrypoint for every portal process.
#
#   entrypoint.sh setup           migrate, createcachetable, register_schedules; then exit
#   entrypoint.sh healthcheck     GET /healthz on this container's web server (the HEALTHCHECK)
#   entrypoint.sh COMMAND ...     run COMMAND (gunicorn, python manage.py qcluster, ...); with
#                                 PORTAL_SETUP=true, run the setup steps first
#
# Run the setup steps from one place per release (compose's one-shot `setup` service, a release
# job): several containers migrating at once would race each other.
set -eu

setup() {
    python manage.py migrate --noinput
    # The database cache table (no-op when REDIS_URL or CACHE_URL names another cache).
    python manage.py createcachetable
    python manage.py register_schedules
}

case "${1:-}" in
    setup)
        setup
        exit 0
        ;;
    healthcheck)
        # ALLOWED_HOSTS is enforced, so ask with a host it allows (its first entry; a leading
        # "." or "*." wildcard is dropped). /healthz is exempt from the HTTPS redirect.
        exec python - <<'PY'
import os
import sys
import urllib.request

hosts = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
host = hosts[0].lstrip("*").lstrip(".") if hosts else ""
request = urllib.request.Request(
    f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz",
    headers={"Host": host or "localhost", "X-Forwarded-Proto": "https"},
)
try:
    with urllib.request.urlopen(request, timeout=4) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception as exc:  # any failure is unhealthy; say why in `docker inspect`
    print(f"healthcheck failed: {exc}", file=sys.stderr)
    sys.exit(1)
PY
        ;;
esac

if [ "${PORTAL_SETUP:-false}" = "true" ]; then
    setup
fi

# exec: the command becomes the container's main process and receives its stop signal.
exec "$@"
