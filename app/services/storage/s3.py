"""Artifacts kept in S3 (or anything that speaks its API), through boto3."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

from app.services.storage import StorageError
from db.models import Artifact


class S3Storage:
    """Deletes `storage_bucket`/`storage_key`, or the bucket and key of an `s3://` path."""

    name = "s3"

    def __init__(
        self, *, endpoint_url: str | None = None, region: str | None = None,
        client: Any | None = None,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self._client = client

    def _s3(self) -> Any:
        if self._client is None:
            import boto3  # imported when used: most installations never delete from S3
            from botocore.config import Config

            self._client = boto3.client(
                "s3", endpoint_url=self.endpoint_url, region_name=self.region,
                # Path-style works with S3 and with S3-compatible stores (MinIO, Ceph, moto).
                config=Config(retries={"max_attempts": 3, "mode": "standard"},
                              connect_timeout=5, read_timeout=30,
                              s3={"addressing_style": "path"}),
            )
        return self._client

    @staticmethod
    def location(artifact: Artifact) -> tuple[str, str]:
        bucket, key = artifact.storage_bucket, artifact.storage_key
        path = artifact.artifact_path or ""
        if path.startswith("s3://"):
            parts = urlsplit(path)
            bucket = bucket or parts.netloc
            key = key or parts.path.lstrip("/")
        if not bucket or not key:
            raise StorageError("the artifact names no S3 bucket and key")
        return bucket, key

    async def delete(self, artifact: Artifact) -> None:
        bucket, key = self.location(artifact)
        await asyncio.to_thread(self._delete, bucket, key)

    def _delete(self, bucket: str, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            # S3 answers 204 for a key that is already gone: deleting twice is fine.
            self._s3().delete_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise StorageError(
                f"s3://{bucket}/{key}: {error.get('Code', 'error')}: {error.get('Message', exc)}"
            ) from None
        except BotoCoreError as exc:
            raise StorageError(f"s3://{bucket}/{key}: {exc}") from None
