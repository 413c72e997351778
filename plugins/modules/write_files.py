#!/usr/bin/python
# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
module: write_files
short_description: Write a host's files in one call, test them with a command, and put them back if it refuses
version_added: 0.5.0
author:
  - smallvps.hardening maintainers
description:
  - Writes every file of O(files) with its content, mode, owner and group, each replaced atomically and only when
    one of those differs. Removes every path of O(remove) that exists.
  - When anything changed, runs O(check) once, after all the writes. When it exits non-zero, every changed file is
    put back as it was (the old content byte for byte, with its old mode and owner; a file that did not exist is
    removed, a removed file or symlink is made again) and the module fails, with the check's stderr in RV(stderr).
  - One call replaces a template task per file (two round trips each when nothing changed) and the command task
    of the check with one round trip. The content is made on the controller, for example with
    P(ansible.builtin.template#lookup).
  - Every argument is checked before anything is read or written. Directories are not made.
options:
  files:
    description: The files to write.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path of the file. Its directory must exist.
        type: str
        required: true
      content:
        description: The file's whole text.
        type: str
        required: true
      mode:
        description: The file's mode, as a quoted octal string.
        type: str
        default: "0644"
      owner:
        description: The file's owner.
        type: str
        default: root
      group:
        description: The file's group.
        type: str
        default: root
  remove:
    description: Absolute paths to remove (a file or a symlink) before the check; put back if the check refuses.
    type: list
    elements: str
    default: []
  check:
    description:
      - A command (argv, no shell) run once after the writes, only when something changed and not in check mode.
      - It exiting non-zero puts every changed file back and fails the module.
    type: list
    elements: str
attributes:
  check_mode:
    support: full
    description: Reports what would be written and removed, writes nothing and does not run O(check).
  diff_mode:
    support: full
    description: One diff per file whose content would change or that would be removed.
"""

EXAMPLES = r"""
- name: Write nginx's files and let nginx test them, in one call
  smallvps.hardening.write_files:
    files:
      - path: /etc/nginx/conf.d/limits.conf
        content: "{{ lookup('ansible.builtin.template', 'limits.conf.j2') }}"
      - path: /etc/nginx/conf.d/app.conf
        content: "{{ lookup('ansible.builtin.template', 'app.conf.j2') }}"
    remove: [/etc/nginx/sites-enabled/default]
    check: [nginx, -t, -q]
  register: written
"""

RETURN = r"""
changed_paths:
  description: Paths written or removed (or that would be, in check mode), O(files) first in order, then O(remove).
  returned: always
  type: list
  elements: str
  sample: [/etc/nginx/conf.d/app.conf]
results:
  description: One entry per file of O(files), in their order, saying whether it changed.
  returned: always
  type: list
  elements: dict
  sample: [{path: /etc/nginx/conf.d/app.conf, changed: true}]
stderr:
  description: The check's stderr, when it refused.
  returned: failure of the check
  type: str
"""

import os
import re
import shlex

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.smallvps.hardening.plugins.module_utils._atomic_file import read_bytes, replace_atomically

ARGUMENT_SPEC = dict(
    files=dict(type="list", elements="raw", required=True),
    remove=dict(type="list", elements="raw", default=[]),
    check=dict(type="list", elements="str"),
)
FILE_KEYS = {"path", "content", "mode", "owner", "group"}
MODE = re.compile(r"^0?[0-7]{3}$")


def _refusal(files, remove, check_mode: bool = False) -> str | None:
    """The refusal message for bad arguments, or None. Checked before anything is read or written. In check mode a
    missing directory is not refused: the task that makes it earlier in the play did not run either, and the file
    is reported as one a real run writes."""
    for index, entry in enumerate(files):
        where = f"write_files: files[{index}]"
        if not isinstance(entry, dict) or not {"path", "content"} <= set(entry) or set(entry) - FILE_KEYS:
            return f"{where} is {entry!r}, expected a dict with path and content, and optionally mode, owner, group"
        path = entry["path"]
        if not isinstance(path, str) or not os.path.isabs(path) or path.endswith("/"):
            return f"{where}.path is {path!r}, expected an absolute file path (/etc/x.conf)"
        if not isinstance(entry["content"], str):
            return f"{where}.content is {type(entry['content']).__name__}, expected the file's text (a string)"
        mode = entry.get("mode", "0644")
        if not isinstance(mode, str) or not MODE.match(mode):
            return f'{where}.mode is {mode!r}, expected a quoted octal string such as "0644"'
        for key in ("owner", "group"):
            if not isinstance(entry.get(key, "root"), str) or not entry.get(key, "root"):
                return f"{where}.{key} is {entry.get(key)!r}, expected a user or group name"
    for index, path in enumerate(remove):
        if not isinstance(path, str) or not os.path.isabs(path) or path.endswith("/"):
            return f"write_files: remove[{index}] is {path!r}, expected an absolute file path (/etc/x.conf)"
        # Refused here, before any file is written: a refusal after the writes would leave them in place.
        if os.path.isdir(path) and not os.path.islink(path):
            return f"write_files: {path} in remove is a directory, expected a file or symlink"
    paths = [entry["path"] for entry in files] + list(remove)
    for path in paths:
        if paths.count(path) > 1:
            return f"write_files: {path} is given twice, expected each path once in files and remove"
    for path in [] if check_mode else paths:
        if not os.path.isdir(os.path.dirname(path)):
            return f"write_files: the directory of {path} does not exist; make it first"
    return None


def _saved(path: str) -> dict:
    """What is needed to put the path back as it is now."""
    if os.path.islink(path):
        return {"path": path, "link": os.readlink(path)}
    status = os.stat(path)
    return {
        "path": path,
        "content": read_bytes(path),
        "mode": status.st_mode & 0o7777,
        "uid": status.st_uid,
        "gid": status.st_gid,
    }


def _put_back(module: AnsibleModule, saved: dict) -> None:
    path = saved["path"]
    if saved.get("absent"):
        if os.path.lexists(path):
            os.unlink(path)
        return
    if "link" in saved:
        if os.path.lexists(path):
            os.unlink(path)
        os.symlink(saved["link"], path)
        return
    if read_bytes(path) != saved["content"]:
        replace_atomically(module, path, saved["content"], ".write_files.")
    os.chown(path, saved["uid"], saved["gid"])
    os.chmod(path, saved["mode"])


def write_file(module: AnsibleModule, entry: dict) -> tuple[bool, dict | None, dict]:
    """(changed, diff or None, what puts it back) for one file."""
    path, content = entry["path"], entry["content"].encode("utf-8")
    if os.path.lexists(path) and not os.path.isfile(path):
        module.fail_json(msg=f"write_files: {path} exists and is not a regular file; nothing was written")
    before = read_bytes(path)
    saved = {"path": path, "absent": True} if before is None else _saved(path)
    changed, diff = False, None
    if before != content:
        changed = True
        diff = {
            "before_header": path,
            "after_header": path,
            "before": (before or b"").decode("utf-8", "replace"),
            "after": entry["content"],
        }
        if module.check_mode:
            return True, diff, saved
        replace_atomically(module, path, content, ".write_files.")
    changed = module.set_mode_if_different(path, entry.get("mode", "0644"), changed)
    changed = module.set_owner_if_different(path, entry.get("owner", "root"), changed)
    changed = module.set_group_if_different(path, entry.get("group", "root"), changed)
    return changed, diff, saved


def run_module() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    files, remove, check = module.params["files"], module.params["remove"], module.params["check"]
    refusal = _refusal(files, remove, module.check_mode)
    if refusal:
        module.fail_json(msg=refusal)
    changed_paths, results, diffs, saved = [], [], [], []
    try:
        for entry in files:
            changed, diff, before = write_file(module, entry)
            results.append({"path": entry["path"], "changed": changed})
            if changed:
                changed_paths.append(entry["path"])
                saved.append(before)
            if diff:
                diffs.append(diff)
        for path in remove:
            if not os.path.lexists(path):
                continue
            before = _saved(path)
            shown = (
                f"symlink to {before['link']}\n" if "link" in before else before["content"].decode("utf-8", "replace")
            )
            diffs.append({"before_header": path, "after_header": path, "before": shown, "after": ""})
            changed_paths.append(path)
            if not module.check_mode:
                os.unlink(path)
                saved.append(before)
        if check and changed_paths and not module.check_mode:
            rc, _, stderr = module.run_command(check)
            if rc != 0:
                for before in reversed(saved):
                    _put_back(module, before)
                module.fail_json(
                    msg=f"write_files: {shlex.join(check)} exited {rc}, so every changed file was put back: "
                    f"{stderr.strip()}",
                    rc=rc,
                    stderr=stderr,
                    changed_paths=changed_paths,
                )
    except OSError as error:
        # Half a configuration is worse than the old one: what was written goes back.
        for before in reversed(saved):
            _put_back(module, before)
        module.fail_json(msg=f"write_files: {error.filename}: {error.strerror}; the changed files were put back")
    result = dict(changed=bool(changed_paths), changed_paths=changed_paths, results=results)
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


def main() -> None:
    run_module()


if __name__ == "__main__":
    main()
