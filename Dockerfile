# syntax=docker/dockerfile:1
# The Work Item Portal: one image for every process (web, qcluster, event processor, outbox
# sender, setup). docs/DEPLOY.md explains how compose.yaml runs them.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the dependencies, into a virtualenv the runtime copies whole ---------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/venv
# Only pyproject.toml: its dependencies (the project itself installs no packages), so this layer
# is rebuilt when they change, not on every code change. The redis extra: REDIS_URL's broker/cache.
COPY pyproject.toml ./
RUN /opt/venv/bin/pip install ".[redis]"

# --- runtime: slim, no compilers, no pip cache, a non-root user ------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=portal.settings \
    PORT=8000 \
    WEB_CONCURRENCY=2
RUN groupadd --system --gid 10001 portal \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin portal
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
# The code stays owned by root: the portal user can read it, not change it.
COPY . .
# Static files are collected into the image (whitenoise serves them). Settings must import, so
# this RUN gets build-only values; none of them reaches the running container.
RUN SECRET_KEY=collectstatic-build-only-not-a-secret \
    GENESYS_REGION=eu_west_1 \
    DATABASE_URL=sqlite:////tmp/collectstatic.sqlite3 \
    python manage.py collectstatic --noinput --verbosity 0 \
    && python -m compileall -q /app \
    && chmod 0755 /app/docker/entrypoint.sh
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/app/docker/entrypoint.sh", "healthcheck"]
ENTRYPOINT ["/app/docker/entrypoint.sh"]
# gunicorn binds 0.0.0.0:$PORT and starts $WEB_CONCURRENCY workers (both set above); /app's
# gunicorn.conf.py makes them threaded (WEB_THREADS each), so slow clients cannot hold them.
CMD ["gunicorn", "portal.wsgi:application", "--access-logfile", "-"]
