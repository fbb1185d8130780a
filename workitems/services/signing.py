"""Standard Webhooks signing and verification (https://www.standardwebhooks.com/).

A secret is given as `whsec_<base64>`; the HMAC key is the base64-decoded part after the prefix.
The signed content is `{webhook-id}.{webhook-timestamp}.{body}` over the exact body bytes sent, and
the `webhook-signature` header is `v1,<base64 HMAC-SHA256>`. During a key rotation the sender
holds several secrets and sends one signature per secret, space-separated; a receiver accepts the
message when any signature matches any of its secrets, so the sender and the receiver can switch
keys independently (add new on both sides → drop old on both sides).

Each signature is computed by the `standardwebhooks` reference package (one `Webhook` per secret);
this module adds what it leaves out: validating secrets without echoing them, one signature per
secret during a rotation, and verifying against several secrets with a caller's clock.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE_SECONDS = 5 * 60  # The reference libraries' default, in both directions.


class SignatureError(Exception):
    """The message is not signed by any of the given secrets, or its timestamp is unacceptable."""


def signing_keys_parse(secrets: str | Iterable[str]) -> list[bytes]:
    """HMAC keys from `whsec_<base64>` secrets: a comma-separated string or an iterable.

    The prefix is optional (as in the reference libraries). A malformed secret raises ValueError
    without echoing its value.
    """
    if isinstance(secrets, str):
        secrets = secrets.split(",")
    keys = []
    for position, secret in enumerate(secrets, start=1):
        secret = secret.strip()
        if not secret:
            continue
        encoded = secret.removeprefix(SECRET_PREFIX)
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"Signing secret #{position} is not valid whsec_<base64>.") from None
        if not key:
            raise ValueError(f"Signing secret #{position} is empty.")
        keys.append(key)
    return keys


def _signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64>` for one key, as the reference package signs. It signs text: the body is
    sent as UTF-8 JSON, so decoding it gives back exactly the bytes that go out."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return Webhook(key).sign(msg_id=msg_id, timestamp=moment, data=body.decode("utf-8"))


def webhook_sign(*, msg_id: str, timestamp: int, body: bytes, secrets: str | Iterable[str]) -> str:
    """The `webhook-signature` header value: one `v1,<base64>` per secret, space-separated."""
    keys = signing_keys_parse(secrets)
    if not keys:
        raise ValueError("No signing secret is configured.")
    return " ".join(_signature(key, msg_id, timestamp, body) for key in keys)


def webhook_headers(
    *, msg_id: str, body: bytes, secrets: str | Iterable[str], timestamp: int | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers for one send of `body`."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": webhook_sign(
            msg_id=msg_id, timestamp=timestamp, body=body, secrets=secrets
        ),
    }


def webhook_verify(
    *,
    headers: Mapping[str, str],
    body: bytes,
    secrets: str | Iterable[str],
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Raise SignatureError unless some `v1` signature in the headers matches some secret.

    `headers` is looked up case-insensitively (a dict of raw headers or Django's
    `request.headers`). Every candidate is compared in constant time, and all are compared, so the
    time taken does not say which secret or signature position matched.
    """
    lowered = {str(k).lower(): v for k, v in headers.items()}
    msg_id = lowered.get("webhook-id", "")
    raw_timestamp = lowered.get("webhook-timestamp", "")
    header = lowered.get("webhook-signature", "")
    if not (msg_id and raw_timestamp and header):
        raise SignatureError("Missing webhook-id, webhook-timestamp or webhook-signature.")
    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        raise SignatureError("webhook-timestamp is not an integer.") from None
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance_seconds:
        raise SignatureError("webhook-timestamp is outside the tolerance.")

    keys = signing_keys_parse(secrets)
    if not keys:
        raise SignatureError("No signing secret is configured.")
    try:
        expected = [
            base64.b64decode(_signature(key, msg_id, timestamp, body).partition(",")[2])
            for key in keys
        ]
    except UnicodeDecodeError:
        raise SignatureError("The body is not UTF-8 text.") from None
    matched = False
    for candidate in header.split():
        version, _, encoded = candidate.partition(",")
        if version != SIGNATURE_VERSION:
            continue  # Other schemes (v1a, …) are for other receivers.
        try:
            given = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        for signature in expected:
            matched |= hmac.compare_digest(signature, given)
    if not matched:
        raise SignatureError("No signature matches.")
