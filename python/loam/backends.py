"""Repositories whose catalog is PostgreSQL and whose objects are in S3 (`loam init --catalog … --objects …`):
`.loam/backends.json` names them (docs/FORMAT.md, "Backends"). Credentials come from the environment as for
the `loam` binary: PGPASSWORD for the database, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or ~/.aws/credentials),
AWS_ENDPOINT_URL and AWS_REGION for S3."""
import json
import os
import sqlite3
from urllib.parse import urlparse

from .errors import LoamError


def read(loam_folder):
    """The backends file of a repository's `.loam/` folder, or None (the embedded default)."""
    path = os.path.join(loam_folder, "backends.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


class PostgresCatalog:
    """The catalog's tables on PostgreSQL, queried with the same SQL as the embedded catalog (read-only)."""

    def __init__(self, url):
        try:
            import psycopg
        except ImportError:
            raise LoamError("this repository's catalog is PostgreSQL: reading it needs psycopg (pip install 'psycopg[binary]')") from None
        self._psycopg = psycopg
        self.url = url
        try:
            self._conn = psycopg.connect(url, autocommit=True)
        except psycopg.OperationalError as error:
            raise LoamError(f"cannot reach the PostgreSQL catalog at {url}: {error}".strip()) from None

    def execute(self, sql, params=()):
        """A cursor over `sql` (SQLite's `?` placeholders); a table the catalog does not have is sqlite3.OperationalError,
        as the embedded catalog would raise."""
        try:
            return self._conn.execute(sql.replace("?", "%s"), params)
        except self._psycopg.errors.UndefinedTable as error:
            raise sqlite3.OperationalError(str(error)) from None


_FILESYSTEMS = {}


def s3_filesystem():
    """pyarrow's S3 file system, configured from AWS_ENDPOINT_URL(_S3), AWS_REGION and the usual credentials."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or ""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    key = (endpoint, region, os.environ.get("AWS_ACCESS_KEY_ID"))
    if key not in _FILESYSTEMS:
        from pyarrow import fs
        options = {"region": region}
        if endpoint:
            parsed = urlparse(endpoint)
            options.update(endpoint_override=parsed.netloc, scheme=parsed.scheme or "https")
        if os.environ.get("AWS_ACCESS_KEY_ID"):
            options.update(access_key=os.environ["AWS_ACCESS_KEY_ID"], secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
                           session_token=os.environ.get("AWS_SESSION_TOKEN"))
        _FILESYSTEMS[key] = fs.S3FileSystem(**options)
    return _FILESYSTEMS[key]


def is_s3(path):
    return isinstance(path, str) and path.startswith("s3://")


def _s3(path, action, what):
    """`action` on pyarrow's S3 file system; a missing key is FileNotFoundError, any other failure a LoamError."""
    try:
        return action(s3_filesystem())
    except FileNotFoundError:
        raise
    except OSError as error:
        if "NoSuchKey" in str(error) or "Path does not exist" in str(error):
            raise FileNotFoundError(path) from None
        raise LoamError(f"cannot {what} {path}: {error} (check AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)") from None


def read_s3(path):
    """An S3 object's bytes (a path `s3://bucket/key`)."""
    def read(fs):
        with fs.open_input_stream(path[5:]) as f:
            return f.read()
    return _s3(path, read, "read")


def open_s3(path):
    """A random-access file over an S3 object: pyarrow's IPC reader fetches the ranges it needs."""
    return _s3(path, lambda fs: fs.open_input_file(path[5:]), "open")


def list_s3(folder):
    """The names in an S3 'folder' (`s3://bucket/prefix/objects/ab`), or [] when there is none."""
    from pyarrow import fs
    try:
        infos = s3_filesystem().get_file_info(fs.FileSelector(folder[5:], allow_not_found=True))
    except OSError as error:
        raise LoamError(f"cannot list {folder}: {error}") from None
    return [os.path.basename(info.path) for info in infos]
