"""Who is calling: account from the access key id, region and signing service from the SigV4
credential scope (Authorization header or presigned X-Amz-Credential); and, when an operator
asks for it (--verify-signatures), whether the SigV4 signature is right.

A 12-digit access key id is taken as the account id (so tests can isolate accounts without
IAM); anything else is the default account. Verification recomputes the signature over the
request as received with botocore's own SigV4 signers and compares in constant time; it knows
no service beyond S3's signing variant.
"""

from __future__ import annotations

import base64
import calendar
import configparser
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from email.utils import parsedate_tz, mktime_tz
from pathlib import Path
from urllib.parse import quote

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")
_SIGNED_HEADERS = re.compile(r"SignedHeaders=([^,\s]+)")
_SIGNATURE = re.compile(r"Signature=([0-9a-fA-F]+)")
_SIGV4 = "AWS4-HMAC-SHA256"
_TIMESTAMP = "%Y%m%dT%H%M%SZ"
# AWS refuses a signature made more than 15 minutes before or after its own clock.
MAX_SKEW_SECONDS = 15 * 60
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # X-Amz-Expires upper bound (SigV4 query auth)

# Error codes botocore clients read (AWS's own for these cases; all HTTP 403).
UNRECOGNIZED_CLIENT = "UnrecognizedClientException"
INVALID_SIGNATURE = "InvalidSignatureException"
MISSING_TOKEN = "MissingAuthenticationTokenException"


@dataclass(frozen=True)
class Caller:
    access_key: str | None
    account: str
    region: str
    service: str | None


def identify(headers, args, default_account: str, default_region: str) -> Caller:
    scope = None
    auth = headers.get("Authorization", "")
    found = _CREDENTIAL.search(auth)
    if found:
        scope = found.groups()
    else:
        cred = args.get("X-Amz-Credential", "")
        parts = cred.split("/")
        if len(parts) == 5:
            scope = (parts[0], parts[1], parts[2], parts[3])
    if not scope:
        return Caller(None, default_account, default_region, None)
    key, _date, region, service = scope
    account = key if is_account(key) else default_account
    return Caller(key, account, region or default_region, service)


def is_account(key: str) -> bool:
    return len(key) == 12 and key.isdigit()


def has_credentials(headers, args) -> bool:
    """The request carries AWS SigV4 credentials (header or presigned query), valid or not."""
    return identify(headers, args, "", "").access_key is not None


# -- verification ----------------------------------------------------------------------------------

class SignatureError(Exception):
    """The request's signature is refused; `code` is the AWS error code (HTTP 403)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def load_credentials(pairs: str = "", path: str = "") -> dict[str, str]:
    """Access key id -> secret from `KEY:SECRET` pairs (comma or space separated) and from a
    file: either the AWS shared-credentials format (aws_access_key_id / aws_secret_access_key
    in any section) or one `KEY:SECRET` per line; `#` starts a comment."""
    found: dict[str, str] = {}
    for pair in pairs.replace(",", " ").split():
        _add_pair(found, pair, "--credentials")
    if path:
        text = Path(path).expanduser().read_text()
        if re.search(r"(?mi)^\s*aws_access_key_id\s*=", text):
            found.update(_shared_credentials(text))
        else:
            for line in text.splitlines():
                line = line.split("#", 1)[0].strip()
                if line:
                    _add_pair(found, line, path)
    return found


def _add_pair(found: dict, pair: str, where: str) -> None:
    key, sep, secret = pair.partition(":")
    if not sep or not key.strip() or not secret.strip():
        raise ValueError(f"{where}: {pair!r} is not ACCESS_KEY_ID:SECRET")
    found[key.strip()] = secret.strip()


def _shared_credentials(text: str) -> dict[str, str]:
    parser = configparser.ConfigParser()
    parser.read_string(text)
    found = {}
    for section in parser.sections():
        key = parser[section].get("aws_access_key_id")
        secret = parser[section].get("aws_secret_access_key")
        if key and secret:
            found[key.strip()] = secret.strip()
    return found


class Verifier:
    """Checks SigV4 signatures against a set of accepted keys.

    `secrets` maps an access key id to its secret; `derived(key)` may give one more secret for
    a key (the credentials this server hands its own job containers), or None."""

    def __init__(self, secrets: dict[str, str], derived=None, clock=time.time):
        self.secrets = dict(secrets)
        self.derived = derived
        self.clock = clock

    def verify(self, environ, headers, args, body: bytes, form=None) -> None:
        """Raise SignatureError unless the request is signed by an accepted key. `form`: the
        fields of a multipart POST (an S3 browser upload signs its policy document)."""
        auth = headers.get("Authorization", "")
        policy_form = {k.lower(): v for k, v in form.items()} if form else {}
        if auth.startswith(_SIGV4):
            self._verify(environ, headers, body, auth, presigned=None)
        elif args.get("X-Amz-Algorithm") == _SIGV4 or "X-Amz-Credential" in args:
            self._verify(environ, headers, body, None, presigned=args)
        elif policy_form.get("x-amz-algorithm") == _SIGV4 and "policy" in policy_form:
            self._verify_policy(policy_form)
        elif auth or "AWSAccessKeyId" in args or "Signature" in args:
            raise SignatureError(INVALID_SIGNATURE,
                                 "Only AWS Signature Version 4 is accepted while --verify-signatures "
                                 "is on (for S3 presigned URLs and uploads, configure the client "
                                 "with signature_version='s3v4').")
        else:
            raise SignatureError(MISSING_TOKEN,
                                 "Missing Authentication Token: this server requires requests "
                                 "signed with AWS Signature Version 4 (--verify-signatures).")

    def _verify(self, environ, headers, body, auth, presigned) -> None:
        if presigned is None:
            scope = _CREDENTIAL.search(auth)
            signed = _SIGNED_HEADERS.search(auth)
            given = _SIGNATURE.search(auth)
            if not (scope and signed and given):
                raise SignatureError(INVALID_SIGNATURE, "The Authorization header is not a complete "
                                     "SigV4 header (Credential, SignedHeaders, Signature).")
            key, date, region, service = scope.groups()
            signed_names, signature = signed.group(1), given.group(1)
            timestamp = headers.get("X-Amz-Date") or _from_http_date(headers.get("Date", ""))
        else:
            parts = presigned.get("X-Amz-Credential", "").split("/")
            if len(parts) != 5 or parts[4] != "aws4_request":
                raise SignatureError(INVALID_SIGNATURE, "X-Amz-Credential is not "
                                     "KEY/DATE/REGION/SERVICE/aws4_request.")
            key, date, region, service = parts[:4]
            signed_names = presigned.get("X-Amz-SignedHeaders", "")
            signature = presigned.get("X-Amz-Signature", "")
            timestamp = presigned.get("X-Amz-Date", "")
        secrets = self._secrets_for(key)
        if not secrets:
            raise SignatureError(UNRECOGNIZED_CLIENT,
                                 f"The security token included in the request is invalid: access key "
                                 f"{key!r} is not one this server accepts (--credentials, "
                                 "--credentials-file).")
        signed_at = _parse_timestamp(timestamp)
        self._check_time(signed_at, presigned)
        if timestamp[:8] != date:
            raise SignatureError(INVALID_SIGNATURE, f"Credential date {date} is not the date of "
                                 f"X-Amz-Date {timestamp}.")
        _check_payload_hash(headers, body)
        request = _rebuild(environ, headers, body, signed_names, timestamp, presigned is not None)
        for secret in secrets:
            expected = _signature(request, Credentials(key, secret), service, region, presigned is not None)
            if hmac.compare_digest(expected.encode(), signature.lower().encode()):
                return
        raise SignatureError(INVALID_SIGNATURE,
                             "The request signature we calculated does not match the signature you "
                             "provided. Check your AWS Secret Access Key and signing method.")

    def _verify_policy(self, form: dict) -> None:
        """An S3 POST upload: the signature is over the base64 policy document itself."""
        parts = form.get("x-amz-credential", "").split("/")
        if len(parts) != 5 or parts[4] != "aws4_request":
            raise SignatureError(INVALID_SIGNATURE, "x-amz-credential is not "
                                 "KEY/DATE/REGION/SERVICE/aws4_request.")
        key, date, region, service = parts[:4]
        secrets = self._secrets_for(key)
        if not secrets:
            raise SignatureError(UNRECOGNIZED_CLIENT, f"The AWS access key {key!r} in the upload form "
                                 "is not one this server accepts (--credentials, --credentials-file).")
        try:
            expiration = json.loads(base64.b64decode(form["policy"]))["expiration"]
            expires = calendar.timegm(time.strptime(expiration[:19], "%Y-%m-%dT%H:%M:%S"))
        except (ValueError, KeyError, TypeError):
            raise SignatureError(INVALID_SIGNATURE, "The upload policy is not base64 JSON with an "
                                 "ISO-8601 expiration.")
        if self.clock() > expires:
            raise SignatureError(INVALID_SIGNATURE, f"Invalid according to Policy: Policy expired ({expiration}).")
        request = AWSRequest()
        request.context["timestamp"] = date + "T000000Z"  # only its date enters the signing key
        for secret in secrets:
            signer = SigV4Auth(Credentials(key, secret), service, region)
            if hmac.compare_digest(signer.signature(form["policy"], request).encode(),
                                   form.get("x-amz-signature", "").lower().encode()):
                return
        raise SignatureError(INVALID_SIGNATURE, "The upload form's signature does not match its "
                             "policy. Check your AWS Secret Access Key.")

    def _secrets_for(self, key: str) -> list[str]:
        secrets = [self.secrets[key]] if key in self.secrets else []
        extra = self.derived(key) if self.derived else None
        return secrets + ([extra] if extra else [])

    def _check_time(self, signed_at: float, presigned) -> None:
        now = self.clock()
        if presigned is None:
            if abs(now - signed_at) > MAX_SKEW_SECONDS:
                raise SignatureError(INVALID_SIGNATURE,
                                     f"Signature expired: {time.strftime(_TIMESTAMP, time.gmtime(signed_at))} "
                                     f"is more than 15 minutes from the server's time "
                                     f"{time.strftime(_TIMESTAMP, time.gmtime(now))}.")
            return
        try:
            expires = int(presigned.get("X-Amz-Expires", ""))
        except ValueError:
            raise SignatureError(INVALID_SIGNATURE, "X-Amz-Expires must be a number of seconds.")
        if not 0 < expires <= MAX_PRESIGN_SECONDS:
            raise SignatureError(INVALID_SIGNATURE, f"X-Amz-Expires must be 1 to {MAX_PRESIGN_SECONDS}.")
        if signed_at - MAX_SKEW_SECONDS > now or now > signed_at + expires:
            raise SignatureError(INVALID_SIGNATURE, "Request has expired (X-Amz-Date + X-Amz-Expires).")


def _parse_timestamp(timestamp: str) -> float:
    try:
        return calendar.timegm(time.strptime(timestamp, _TIMESTAMP))
    except ValueError:
        raise SignatureError(INVALID_SIGNATURE, f"X-Amz-Date {timestamp!r} is not YYYYMMDDTHHMMSSZ.")


def _from_http_date(value: str) -> str:
    parsed = parsedate_tz(value) if value else None
    return time.strftime(_TIMESTAMP, time.gmtime(mktime_tz(parsed))) if parsed else ""


def _check_payload_hash(headers, body: bytes) -> None:
    """S3 signs X-Amz-Content-SHA256 instead of the body: the body must then have that hash."""
    declared = headers.get("X-Amz-Content-SHA256", "")
    if re.fullmatch(r"[0-9a-fA-F]{64}", declared) and hashlib.sha256(body).hexdigest() != declared.lower():
        raise SignatureError(INVALID_SIGNATURE,
                             "The provided X-Amz-Content-SHA256 header does not match the body.")


def _rebuild(environ, headers, body: bytes, signed_names: str, timestamp: str, presigned: bool) -> AWSRequest:
    """The request as the client signed it: its raw path and query (the signature covers them
    as sent, before any decoding) and only the headers it signed."""
    raw_uri = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if raw_uri and not raw_uri.startswith("/"):  # an absolute-form request line
        raw_uri = "/" + raw_uri.split("://", 1)[-1].partition("/")[2]
    if raw_uri:
        path, _, query = raw_uri.partition("?")
    else:  # a server that keeps no raw URI: re-encode the decoded path as SDKs encode it
        path = quote(environ.get("PATH_INFO", "").encode("latin-1"), safe="/~")
        query = environ.get("QUERY_STRING", "")
    if presigned:
        query = "&".join(p for p in query.split("&") if p and not p.startswith("X-Amz-Signature="))
    names = [n for n in signed_names.lower().split(";") if n]
    signed_headers = {}
    for name in names:
        values = headers.getlist(name) if hasattr(headers, "getlist") else [headers.get(name)]
        if values and values[0] is not None:
            signed_headers[name] = ",".join(values)
    host = headers.get("Host", "")
    request = AWSRequest(method=environ.get("REQUEST_METHOD", "GET"),
                         url=f"http://{host}{path}" + (f"?{query}" if query else ""),
                         headers=signed_headers, data=body)
    request.context["timestamp"] = timestamp
    return request


def _signature(request: AWSRequest, credentials: Credentials, service: str, region: str,
               presigned: bool) -> str:
    if service == "s3":  # S3 signs the path as sent, without normalizing it
        signer_class = S3SigV4QueryAuth if presigned else S3SigV4Auth
    else:
        signer_class = SigV4QueryAuth if presigned else SigV4Auth
    signer = signer_class(credentials, service, region)
    canonical = signer.canonical_request(request)
    return signer.signature(signer.string_to_sign(request, canonical), request)
