# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""Reading a file whole and replacing it atomically, for the modules that write configuration on the host
(systemd_dropins, write_files): a reader (systemd, nginx, gunicorn) sees the old file or the new one, never half."""

from __future__ import annotations

import os
import tempfile


def read_bytes(path: str) -> bytes | None:
    """The file's content, or None when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def replace_atomically(module, path: str, content: bytes, prefix: str) -> None:
    """Write `content` to a temporary file beside `path` (named PREFIX*), then rename it over `path` with the
    module's atomic_move, which keeps an existing file's SELinux context."""
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=prefix)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
        module.atomic_move(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
