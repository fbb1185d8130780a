"""Reading an ingest request's body whole, whatever its framing.

Django reads `CONTENT_LENGTH` bytes; a body sent with `Transfer-Encoding: chunked` has no
Content-Length, so Django reads it as empty — a valid event would be refused as malformed and
stored empty. A WSGI server that decodes the chunks itself and ends the input stream at the end
of the body says so with `wsgi.input_terminated` (gunicorn does; mod_wsgi can): then the stream is
read to its end. Elsewhere (Django's runserver) reading on would block or read the raw chunk
framing, so the request is refused with 411 Length Required, saying what to do. Never empty.
"""

from __future__ import annotations

from dataclasses import dataclass

READ_SIZE = 64 * 1024


@dataclass(frozen=True)
class BodyRefused:
    status: int
    detail: str


def _chunked(meta) -> bool:
    codings = [c.strip().lower() for c in str(meta.get("HTTP_TRANSFER_ENCODING", "")).split(",")]
    return "chunked" in codings


def request_body(request, *, limit: int) -> bytes | BodyRefused:
    """The whole body, or why it is refused (413 over `limit`, 411 for chunked input this server
    cannot read whole)."""
    meta = request.META
    if not _chunked(meta) or meta.get("CONTENT_LENGTH"):
        body = request.body
        if len(body) > limit:
            return BodyRefused(413, f"The body is larger than {limit} bytes.")
        return body
    if not meta.get("wsgi.input_terminated"):
        return BodyRefused(
            411,
            "A chunked body (Transfer-Encoding: chunked) cannot be read by this server; "
            "send it with a Content-Length.",
        )
    stream, parts, size = meta["wsgi.input"], [], 0
    while size <= limit:
        part = stream.read(min(READ_SIZE, limit + 1 - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    if size > limit:
        return BodyRefused(413, f"The body is larger than {limit} bytes.")
    return b"".join(parts)
