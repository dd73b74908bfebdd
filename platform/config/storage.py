"""Where datasets and artifacts are stored, read from the environment.

The local filesystem (``SCALPEL_MEDIA_ROOT``) by default; any S3-compatible object store (AWS S3,
MinIO, Ceph) with the ``s3`` extra (django-storages and boto3) and ``SCALPEL_STORAGE_BACKEND=s3``.
The S3 variables keep django-storages' own names.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

# Django's, writing each file under a temporary name first (core/files.py: a full disk leaves no part).
FILESYSTEM = "core.files.AtomicFileSystemStorage"
S3 = "storages.backends.s3.S3Storage"
ALIASES = {"filesystem": FILESYSTEM, "s3": S3}

# Environment variable -> S3Storage option.
S3_OPTIONS = {
    "AWS_STORAGE_BUCKET_NAME": "bucket_name",
    "AWS_S3_ENDPOINT_URL": "endpoint_url",
    "AWS_S3_REGION_NAME": "region_name",
    "AWS_S3_ADDRESSING_STYLE": "addressing_style",
    "AWS_ACCESS_KEY_ID": "access_key",
    "AWS_SECRET_ACCESS_KEY": "secret_key",
    "AWS_LOCATION": "location",
}


def default_storage_config(env) -> dict:
    backend = env.str("SCALPEL_STORAGE_BACKEND", default="filesystem")
    backend = ALIASES.get(backend, backend)
    if backend != S3:
        return {"BACKEND": backend}
    options = {option: env.str(name) for name, option in S3_OPTIONS.items() if env.str(name, default="")}
    if "bucket_name" not in options:
        raise ImproperlyConfigured(
            "SCALPEL_STORAGE_BACKEND is s3 but AWS_STORAGE_BUCKET_NAME is not set: name the bucket."
        )
    if options.get("addressing_style", "path") not in ("path", "virtual", "auto"):
        raise ImproperlyConfigured("AWS_S3_ADDRESSING_STYLE must be path, virtual or auto.")
    # Files are private (no public ACL, signed URLs only), and a new file never replaces another
    # one of the same name, as on the local filesystem: the name gets a suffix instead.
    options.update(default_acl=None, querystring_auth=True, file_overwrite=False)
    return {"BACKEND": S3, "OPTIONS": options}
