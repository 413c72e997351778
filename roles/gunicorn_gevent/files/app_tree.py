# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)
"""What the copy of gunicorn_gevent_app_src leaves on the host when nothing is left to change, in the lines the
host's listing prints (tasks/main.yml): `d 755 root:root ./DIR` for each directory, `f ok root:root ./FILE` (mode
0644 or 0755, what u=rwX,go=rX leaves) and `SHA1  ./FILE` (sha1sum's line) for each file. Run on the controller
with the controller's Python: `python3 app_tree.py DIR`. A symlink prints a line no listing has, so its copy runs."""

from __future__ import annotations

import hashlib
import os
import sys


def lines(root: str) -> list[str]:
    found = []
    for base, dirs, files in os.walk(root):
        for name in sorted(dirs) + sorted(files):
            path = os.path.join(base, name)
            shown = "./" + os.path.relpath(path, root)
            if os.path.islink(path):
                found.append(f"symlink {shown}")
            elif name in dirs:
                found.append(f"d 755 root:root {shown}")
            else:
                with open(path, "rb") as handle:
                    digest = hashlib.sha1(handle.read()).hexdigest()
                found += [f"f ok root:root {shown}", f"{digest}  {shown}"]
    return found


if __name__ == "__main__":
    print("\n".join(lines(sys.argv[1])))
