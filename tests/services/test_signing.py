import base64
import hashlib
import hmac

import pytest

from workitems.services.signing import (
    SignatureError,
    signing_keys_parse,
    webhook_headers,
    webhook_sign,
    webhook_verify,
)

KEY_A = b"first-signing-key-32-bytes-long!"
KEY_B = b"second-signing-key-for-rotation!"
SECRET_A = "whsec_" + base64.b64encode(KEY_A).decode()
SECRET_B = "whsec_" + base64.b64encode(KEY_B).decode()
BODY = b'{"orderId":"ref-1","sequence":1}'
NOW = 1_700_000_000


def expected(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def test_signature_matches_the_standard_webhooks_reference_vector():
    # The example from the Standard Webhooks / Svix reference libraries' tests.
    signature = webhook_sign(
        msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
        timestamp=1614265330,
        body=b'{"test": 2432232314}',
        secrets="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_is_hmac_sha256_of_id_timestamp_and_body_keyed_with_the_decoded_secret():
    assert webhook_sign(msg_id="msg_1", timestamp=NOW, body=BODY, secrets=SECRET_A) == expected(
        KEY_A, "msg_1", NOW, BODY
    )


def test_two_secrets_give_two_space_separated_signatures():
    header = webhook_sign(
        msg_id="msg_1", timestamp=NOW, body=BODY, secrets=f"{SECRET_A},{SECRET_B}"
    )
    assert header.split(" ") == [
        expected(KEY_A, "msg_1", NOW, BODY),
        expected(KEY_B, "msg_1", NOW, BODY),
    ]


def test_headers_carry_id_timestamp_and_signature():
    headers = webhook_headers(msg_id="msg_1", body=BODY, secrets=SECRET_A, timestamp=NOW)
    assert headers == {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(NOW),
        "webhook-signature": expected(KEY_A, "msg_1", NOW, BODY),
    }


def test_verify_accepts_a_correct_signature():
    headers = webhook_headers(msg_id="msg_1", body=BODY, secrets=SECRET_A, timestamp=NOW)
    webhook_verify(headers=headers, body=BODY, secrets=SECRET_A, now=NOW)


def test_verify_reads_headers_case_insensitively():
    headers = webhook_headers(msg_id="msg_1", body=BODY, secrets=SECRET_A, timestamp=NOW)
    webhook_verify(
        headers={k.title(): v for k, v in headers.items()}, body=BODY, secrets=SECRET_A, now=NOW
    )


@pytest.mark.parametrize(
    ("sender", "receiver"),
    [
        ([SECRET_A, SECRET_B], [SECRET_B]),  # sender rotated first
        ([SECRET_A], [SECRET_B, SECRET_A]),  # receiver rotated first
        ([SECRET_B], [SECRET_A, SECRET_B]),  # sender finished; receiver still holds both
    ],
)
def test_rotation_any_signature_matching_any_secret_is_accepted(sender, receiver):
    headers = webhook_headers(msg_id="msg_1", body=BODY, secrets=sender, timestamp=NOW)
    webhook_verify(headers=headers, body=BODY, secrets=receiver, now=NOW)


def test_verify_rejects_a_signature_made_with_another_secret():
    headers = webhook_headers(msg_id="msg_1", body=BODY, secrets=SECRET_B, timestamp=NOW)
    with pytest.raises(SignatureError):
        webhook_verify(headers=headers, body=BODY, secrets=SECRET_A, now=NOW)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: ({**h, "webhook-id": "msg_2"}, b),
        lambda h, b: ({**h, "webhook-timestamp": str(NOW + 1)}, b),
        lambda h, b: (h, b + b" "),
        lambda h, b: ({**h, "webhook-signature": "v1,not-base64!"}, b),
        lambda h, b: ({**h, "webhook-signature": h["webhook-signature"].replace("v1,", "v2,")}, b),
        lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b),
        lambda h, b: ({**h, "webhook-timestamp": "soon"}, b),
    ],
    ids=["id", "timestamp", "body", "garbage", "other-version", "missing", "non-integer-time"],
)
def test_verify_rejects_anything_changed_after_signing(tamper):
    headers = webhook_headers(msg_id="msg_1", body=BODY, secrets=SECRET_A, timestamp=NOW)
    headers, body = tamper(headers, BODY)
    with pytest.raises(SignatureError):
        webhook_verify(headers=headers, body=body, secrets=SECRET_A, now=NOW)


@pytest.mark.parametrize("skew", [-301, 301])
def test_verify_rejects_timestamps_outside_the_tolerance_either_way(skew):
    headers = webhook_headers(msg_id="msg_1", body=BODY, secrets=SECRET_A, timestamp=NOW + skew)
    with pytest.raises(SignatureError, match="tolerance"):
        webhook_verify(headers=headers, body=BODY, secrets=SECRET_A, now=NOW)


def test_verify_accepts_timestamps_inside_the_tolerance():
    headers = webhook_headers(msg_id="msg_1", body=BODY, secrets=SECRET_A, timestamp=NOW - 299)
    webhook_verify(headers=headers, body=BODY, secrets=SECRET_A, now=NOW)


def test_verify_skips_unknown_schemes_and_finds_the_v1_signature():
    headers = webhook_headers(msg_id="msg_1", body=BODY, secrets=SECRET_A, timestamp=NOW)
    headers["webhook-signature"] = "v1a,c29tZXRoaW5n " + headers["webhook-signature"]
    webhook_verify(headers=headers, body=BODY, secrets=SECRET_A, now=NOW)


def test_secret_prefix_is_optional_and_blanks_are_ignored():
    assert signing_keys_parse(f" {SECRET_A}, ,{base64.b64encode(KEY_B).decode()}") == [KEY_A, KEY_B]


def test_a_malformed_secret_is_refused_without_echoing_it():
    with pytest.raises(ValueError) as caught:
        signing_keys_parse("whsec_not*base64")
    assert "not*base64" not in str(caught.value)


def test_signing_without_a_secret_is_refused():
    with pytest.raises(ValueError):
        webhook_sign(msg_id="msg_1", timestamp=NOW, body=BODY, secrets="")


def test_the_reference_package_signs_and_verifies_every_secret_of_a_rotation():
    import time
    from unittest import mock

    from standardwebhooks.webhooks import Webhook

    now = int(time.time())
    with mock.patch.object(Webhook, "sign", autospec=True, side_effect=Webhook.sign) as sign:
        headers = webhook_headers(
            msg_id="msg_1", body=BODY, secrets=f"{SECRET_A},{SECRET_B}", timestamp=now
        )
    assert sign.call_count == 2  # one signature per secret, each by the reference package
    for secret in (SECRET_A, SECRET_B):
        # The reference verifier, which checks the first signature it can match.
        assert Webhook(secret).verify(BODY, headers) == {"orderId": "ref-1", "sequence": 1}


def test_a_body_that_is_not_utf8_text_does_not_verify():
    headers = webhook_headers(msg_id="msg_1", body=BODY, secrets=SECRET_A, timestamp=NOW)
    with pytest.raises(SignatureError):
        webhook_verify(headers=headers, body=b"\xff\xfe", secrets=SECRET_A, now=NOW)
