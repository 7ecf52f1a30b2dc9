"""Reading an encrypted repository (docs/FORMAT.md, "Encryption at rest"): the data keys in the catalog are
unwrapped with the master key (LOAM_MASTER_KEY, 64 hexadecimal digits, or the file LOAM_KEY_FILE names),
and each object is decrypted into memory — AES-256-GCM per 1 MiB segment under a key derived from the data
key and the object's salt. Plaintext repositories are read zero-copy, as before. Needs `cryptography`."""
import os
import struct

import pyarrow as pa

from . import backends
from .errors import LoamError

MAGIC = b"LOAMENC1"
HEADER = 64
TAG = 16

# objects folder → {key id (16 bytes): data key (32 bytes)}, registered when a repository is opened.
KEYRINGS = {}


def _master_key():
    text = os.environ.get("LOAM_MASTER_KEY")
    source = "LOAM_MASTER_KEY"
    if not text:
        path = os.environ.get("LOAM_KEY_FILE")
        if not path:
            return None, None
        source = f"key file {path}"
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError as e:
            raise LoamError(f"cannot read the key file {path}: {e.strerror}") from None
        if len(raw) == 32:
            return raw, source
        text = raw.decode("ascii", "replace")
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        key = b""
    if len(key) != 32:
        raise LoamError(f"the master key from {source} must be 32 bytes (64 hexadecimal digits)")
    return key, source


def register(objects_folder, catalog, root):
    """Unwraps the repository's data keys, if it has any (a plaintext repository has none)."""
    try:
        rows = catalog.execute("SELECT id, wrapped FROM encryption_keys").fetchall()
    except Exception:  # a catalog from before encryption existed
        rows = []
    if not rows:
        KEYRINGS.pop(objects_folder, None)
        return
    master, source = _master_key()
    if master is None:
        raise LoamError(f"{root} is encrypted: give its master key with LOAM_KEY_FILE=PATH (a key file) or LOAM_MASTER_KEY=<64 hexadecimal digits>")
    try:
        from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap
    except ImportError:
        raise LoamError("reading an encrypted repository needs the `cryptography` package: pip install cryptography") from None
    keys = {}
    for key_id, wrapped in rows:
        try:
            keys[bytes.fromhex(key_id)] = aes_key_unwrap(master, bytes(wrapped))
        except InvalidUnwrap:
            raise LoamError(f"the master key from {source} does not open this repository (it is not the key the repository "
                            "was encrypted or last rotated with)") from None
    KEYRINGS[objects_folder] = keys


def decrypt(data, keys, what):
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    header = bytes(data[:HEADER])
    key = keys.get(header[8:24])
    if key is None:
        raise LoamError(f"{what} is encrypted under data key {header[8:24].hex()}, which this repository's keyring lacks")
    (segment,) = struct.unpack_from("<I", header, 56)
    object_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=header[24:56], info=b"loam object key v1").derive(key)
    aead = AESGCM(object_key)
    body = len(data) - HEADER
    count = (body + segment + TAG - 1) // (segment + TAG)
    out, at = [], HEADER
    for index in range(count):
        final = index == count - 1
        size = (len(data) - at) if final else segment + TAG
        nonce = struct.pack("<QI", index, 1 if final else 0)
        try:
            out.append(aead.decrypt(nonce, bytes(data[at:at + size]), header))
        except InvalidTag:
            raise LoamError(f"{what} does not decrypt (segment {index + 1} of {count}): the master key is not this repository's, "
                            "or the file was changed") from None
        at += size
    return b"".join(out)


def read_object(path):
    """An object's bytes, decrypted when its repository is encrypted."""
    if backends.is_s3(path):
        return backends.read_s3(path)  # remote repositories are not encrypted (loam init refuses --encrypt with them)
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != MAGIC:
        return data
    what = f"object {os.path.basename(os.path.dirname(path))}{os.path.basename(path)[:10]}"
    keys = KEYRINGS.get(os.path.dirname(os.path.dirname(path)))
    if keys is None:
        raise LoamError(f"{what} is encrypted: open its repository with its master key")
    return decrypt(data, keys, what)


def arrow_source(path):
    """What pyarrow's IPC reader opens: the file memory-mapped (zero copy), its plaintext in memory, or an S3 object."""
    if backends.is_s3(path):
        return backends.open_s3(path)
    folder = os.path.dirname(os.path.dirname(path))
    if folder not in KEYRINGS:
        return pa.memory_map(path, "r")
    return pa.BufferReader(read_object(path))
