"""A segment-store Backend on S3-compatible object storage (Ceph radosgw, MinIO, AWS S3), reached through boto3.

The store hands this backend only sealed bytes, so the object store and whoever runs it never hold a picture. Every
failure comes out as one of the store's errors with one sentence a hospital's IT team can act on: the endpoint cannot
be reached, the credentials are refused, the bucket does not exist.

Credentials come from boto3's usual places: the AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY environment variables
(with AWS_SESSION_TOKEN for temporary ones), else the shared credentials file (~/.aws/credentials of the user Cradle
runs as, or the file named by AWS_SHARED_CREDENTIALS_FILE; profile AWS_PROFILE). They never go into the storage URL,
which ends up in process listings and logs.
"""

from __future__ import annotations

import builtins
import re
from urllib.parse import parse_qs, urlsplit

import boto3
import botocore.exceptions
from botocore.config import Config

from cradle.media.store import ObjectExists, ObjectMissing, StoreError, _check_name

# S3's rules for bucket names (no dots: they break path-style TLS names on some stores).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
_QUERY_KEYS = {"endpoint", "region"}
# Codes that mean the key pair itself was refused, as opposed to a known key without access to this bucket.
_BAD_CREDENTIALS = {"SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidToken", "ExpiredToken", "InvalidSecurity"}
# 412 is the answer to If-None-Match on an existing object; 409 is AWS's answer while another such write is in flight.
_EXISTS = {"PreconditionFailed", "ConditionalRequestConflict"}


class S3Bucket:
    """A Backend on one bucket, optionally under a key prefix; objects are named exactly as on local disk.

    Exclusive puts use a conditional write (If-None-Match: *), which Ceph radosgw, MinIO and AWS S3 honour, so two
    workers admitting the same baby cannot both win, as with the hard link on local disk.
    """

    def __init__(
        self, bucket: str, *, endpoint: str | None = None, region: str | None = None, prefix: str = ""
    ) -> None:
        self.bucket = bucket
        self.endpoint = endpoint
        self.prefix = prefix
        self.where = f"bucket {bucket} at {endpoint or 'AWS S3'}"
        config = Config(
            connect_timeout=5,
            read_timeout=30,
            retries={"max_attempts": 3, "mode": "standard"},
            # Path-style addresses need no wildcard DNS, which on-premises object stores rarely have.
            s3={"addressing_style": "path"},
            # Checksums only where S3 requires them: older radosgw and MinIO releases refuse the newer trailers.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            # Gunicorn threads and camera pipelines share one client; it is thread-safe, its pool must be big enough.
            max_pool_connections=32,
        )
        self._client = boto3.session.Session().client("s3", endpoint_url=endpoint, region_name=region, config=config)

    @classmethod
    def from_url(cls, url: str) -> S3Bucket:
        """The bucket named by `s3://BUCKET[/PREFIX]?endpoint=URL&region=NAME`; StoreError says what is wrong."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise StoreError(f"The storage URL {url!r} is not of the form s3://bucket?endpoint=http://host:port.")
        if not _BUCKET.fullmatch(parts.netloc):
            raise StoreError(
                f"{parts.netloc!r} is not a valid bucket name; use 3 to 63 lower-case letters, digits and '-'."
            )
        query = parse_qs(parts.query, keep_blank_values=True)
        unknown = sorted(set(query) - _QUERY_KEYS)
        if unknown:
            raise StoreError(f"The storage URL has unknown settings ({', '.join(unknown)}); only endpoint and region.")
        endpoint = query.get("endpoint", [None])[-1]
        if endpoint is not None:
            target = urlsplit(endpoint)
            if target.scheme not in ("http", "https") or not target.netloc:
                raise StoreError(f"The storage endpoint {endpoint!r} is not an http:// or https:// address.")
        prefix = parts.path.strip("/")
        if prefix:
            _check_name(prefix)
            prefix += "/"
        return cls(parts.netloc, endpoint=endpoint, region=query.get("region", [None])[-1], prefix=prefix)

    def check(self) -> None:
        """Raises StoreError unless the bucket can be reached and listed with these credentials (for start-up)."""
        try:
            self._client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1)
        except Exception as e:
            raise self._failure(e, None) from None

    def put(self, name: str, data: bytes, *, exclusive: bool = False) -> None:
        key = self._key(name)
        extra = {"IfNoneMatch": "*"} if exclusive else {}
        try:
            self._client.put_object(Bucket=self.bucket, Key=key, Body=data, **extra)
        except Exception as e:
            raise self._failure(e, name) from None

    def get(self, name: str) -> bytes:
        key = self._key(name)
        try:
            return self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except Exception as e:
            raise self._failure(e, name) from None

    def delete(self, name: str) -> None:
        key = self._key(name)
        try:
            self._client.delete_object(Bucket=self.bucket, Key=key)  # S3 answers a missing key with success too
        except Exception as e:
            raise self._failure(e, name) from None

    def list(self, prefix: str) -> list[str]:
        names: list[str] = []
        try:
            for page in self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix + prefix
            ):
                names.extend(item["Key"][len(self.prefix) :] for item in page.get("Contents", ()))
        except Exception as e:
            raise self._failure(e, None) from None
        return sorted(names)

    def unfinished(self, prefix: str = "", older_than_s: float = 0.0) -> builtins.list[str]:
        """Objects are written whole: a write cut off leaves nothing behind."""
        return []

    def sweep(self, prefix: str = "", older_than_s: float = 0.0) -> int:
        return 0

    def _key(self, name: str) -> str:
        _check_name(name)  # the same names as on local disk, so a store can move between backends unchanged
        return self.prefix + name

    def _failure(self, error: Exception, name: str | None) -> Exception:
        """The store's error for a failed call, with one sentence; anything unforeseen passes through unchanged."""
        if isinstance(error, botocore.exceptions.ClientError):
            code = str(error.response.get("Error", {}).get("Code", ""))
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in _EXISTS and name is not None:
                return ObjectExists(f"{name} already exists.")
            if code in ("NoSuchKey", "404", "NotFound") and name is not None:
                return ObjectMissing(f"{name} is not stored.")
            if code == "NoSuchBucket":
                return StoreError(
                    f"The bucket {self.bucket} does not exist at {self.endpoint or 'AWS S3'}; "
                    "create it or correct CRADLE_STORAGE_URL."
                )
            if code in _BAD_CREDENTIALS:
                return StoreError(
                    f"The object store refused Cradle's credentials ({code}) for {self.where}; "
                    "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or the AWS credentials file."
                )
            if code == "AccessDenied" or status == 403:
                return StoreError(
                    f"The object store denied access to {self.where}; give Cradle's key read, write, list and "
                    "delete rights on the bucket."
                )
            return StoreError(f"The object store answered {code or status} for {name or self.where}; see its log.")
        if isinstance(error, botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError):
            return StoreError(
                "No S3 credentials were found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                "or give Cradle's user an AWS credentials file."
            )
        if isinstance(error, botocore.exceptions.ConnectionError | botocore.exceptions.HTTPClientError):
            return StoreError(
                f"The object store at {self.endpoint or 'AWS S3'} cannot be reached; check the endpoint in "
                "CRADLE_STORAGE_URL and that the storage service is running."
            )
        if isinstance(error, botocore.exceptions.BotoCoreError):
            return StoreError(f"The object store could not be used for {self.where}: {error}")
        return error
