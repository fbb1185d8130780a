# syntax=docker/dockerfile:1
# Multi-stage: build wheels, then a slim runtime as a non-root user.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml ./
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim-bookworm
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 DJANGO_SETTINGS_MODULE=portal.settings
RUN useradd --create-home --uid 10001 portal
WORKDIR /app
COPY --from=build /install /usr/local
COPY --chown=portal:portal . .
# collectstatic needs settings that import; these build-time values never reach runtime.
RUN SECRET_KEY=build-only GENESYS_REGION=eu_west_1 python manage.py collectstatic --noinput
USER portal
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/admin/login/').status == 200 else 1)"
CMD ["gunicorn", "portal.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2", "--access-logfile", "-"]
