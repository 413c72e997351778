#!/usr/bin/python
# Copyright (c) smallvps.hardening maintainers
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
module: systemd_dropins
short_description: Write all of a host's drop-ins of one name in one call, and remove the ones no longer wanted
version_added: 0.5.0
author:
  - smallvps.hardening maintainers
description:
  - Writes C(<root>/<unit>.d/<name>) for every unit of O(dropins) with the given content (directories C(0755),
    files C(0644), owned by root), each file replaced atomically and only when its content, mode or owner differs.
  - Removes the file O(name) from every other C(<root>/*.d/) directory (a unit no longer listed). Other files in
    those directories, and the directories themselves, are left alone.
  - One call replaces a loop of template and file tasks, one round trip per unit, with one round trip per host.
    The content is made on the controller, for example by P(smallvps.hardening.systemd_tier_dropins#filter).
  - Does not reload systemd; notify a handler when RV(changed) is true. RV(changed_units) names the units whose
    drop-in was written, for restarting those you allow to restart.
options:
  name:
    description: The drop-in's file name, for example C(50-smallvps-tier.conf). It must end in C(.conf).
    type: str
    required: true
  dropins:
    description:
      - Unit name (with its suffix, for example C(app.service) or C(system.slice)) to the drop-in's text.
      - Every unit not listed loses its O(name) drop-in; an empty mapping removes all of them.
    type: dict
    required: true
  root:
    description: The directory holding the C(<unit>.d) directories (for tests and chroots).
    type: path
    default: /etc/systemd/system
attributes:
  check_mode:
    support: full
    description: Reports what would be written and removed, and writes nothing.
  diff_mode:
    support: full
    description: One diff per drop-in file written or removed.
seealso:
  - plugin: smallvps.hardening.systemd_tier_dropins
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Cap the app and protect nginx, in one call
  smallvps.hardening.systemd_dropins:
    name: 50-smallvps-tier.conf
    dropins:
      app.service: |
        [Service]
        MemoryMax=256M
      nginx.service: |
        [Service]
        OOMScoreAdjust=-500
  register: written
  notify: Reload systemd units
"""

RETURN = r"""
changed_units:
  description: Units whose drop-in was created or rewritten (or would be, in check mode), in O(dropins) order.
  returned: always
  type: list
  elements: str
  sample: [app.service]
removed:
  description: Drop-in files removed (or that would be, in check mode), of units no longer listed.
  returned: always
  type: list
  elements: str
  sample: [/etc/systemd/system/old.service.d/50-smallvps-tier.conf]
"""

import os
import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.smallvps.hardening.plugins.module_utils._atomic_file import read_bytes, replace_atomically

ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True),
    dropins=dict(type="dict", required=True),
    root=dict(type="path", default="/etc/systemd/system"),
)

UNIT_TYPES = ("service", "socket", "slice", "scope", "target", "mount", "automount", "swap", "path", "timer", "device")
UNIT_NAME = re.compile(r"^[A-Za-z0-9:_.@\\-]+\.(" + "|".join(UNIT_TYPES) + r")$")
FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9:_.@-]*\.conf$")


def check_arguments(name, dropins) -> str | None:
    """The refusal message for bad arguments, or None. Checked before anything is read or written."""
    if not FILE_NAME.match(name):
        return f"systemd_dropins: name is {name!r}, expected a file name ending in .conf, without '/' (50-x.conf)"
    for unit, content in dropins.items():
        if not UNIT_NAME.match(unit) or unit.startswith("."):
            return (
                f"systemd_dropins: dropins has the key {unit!r}, expected a unit name with its suffix "
                f"({', '.join('.' + kind for kind in UNIT_TYPES[:3])}, ...) and no '/'"
            )
        if not isinstance(content, str) or not content:
            return (
                f"systemd_dropins: dropins.{unit} is {content!r}, expected the drop-in's text "
                "(leave a unit out to remove its drop-in)"
            )
    return None


def _read(path: str) -> str | None:
    content = read_bytes(path)
    return None if content is None else content.decode("utf-8", "replace")


def _owned(module: AnsibleModule, path: str, mode: str, changed: bool) -> bool:
    changed = module.set_mode_if_different(path, mode, changed)
    changed = module.set_owner_if_different(path, "root", changed)
    return module.set_group_if_different(path, "root", changed)


def write_dropin(module: AnsibleModule, directory: str, path: str, content: str) -> tuple[bool, bool, dict | None]:
    """(directory changed, file changed, diff or None) for one unit's drop-in."""
    dir_changed = False
    if not os.path.isdir(directory):
        if os.path.lexists(directory):
            module.fail_json(msg=f"systemd_dropins: {directory} exists and is not a directory")
        dir_changed = True
        if module.check_mode:
            return True, True, {"before_header": path, "after_header": path, "before": "", "after": content}
        os.mkdir(directory, 0o755)
    dir_changed = _owned(module, directory, "0755", dir_changed)
    before = _read(path)
    diff = None
    file_changed = False
    if before != content:
        file_changed = True
        diff = {"before_header": path, "after_header": path, "before": before or "", "after": content}
        if not module.check_mode:
            replace_atomically(module, path, content.encode("utf-8"), ".systemd_dropins.")
    file_changed = _owned(module, path, "0644", file_changed) if os.path.exists(path) else file_changed
    return dir_changed, file_changed, diff


def stale_dropins(root: str, name: str, units) -> list[str]:
    """This name's drop-in files under <root>/*.d/ of units not in `units`, sorted."""
    try:
        entries = sorted(os.listdir(root))
    except FileNotFoundError:
        return []
    stale = []
    for entry in entries:
        path = os.path.join(root, entry, name)
        if entry.endswith(".d") and entry[:-2] not in units and os.path.lexists(path) and not os.path.isdir(path):
            stale.append(path)
    return stale


def run_module() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    name, dropins, root = module.params["name"], module.params["dropins"], module.params["root"]
    refusal = check_arguments(name, dropins)
    if refusal:
        module.fail_json(msg=refusal)
    changed, changed_units, removed, diffs = False, [], [], []
    try:
        for unit, content in dropins.items():
            directory = os.path.join(root, f"{unit}.d")
            dir_changed, file_changed, diff = write_dropin(module, directory, os.path.join(directory, name), content)
            changed = changed or dir_changed or file_changed
            if file_changed:
                changed_units.append(unit)
            if diff:
                diffs.append(diff)
        for path in stale_dropins(root, name, dropins):
            before = "" if os.path.islink(path) else _read(path) or ""
            diffs.append({"before_header": path, "after_header": path, "before": before, "after": ""})
            removed.append(path)
            if not module.check_mode:
                os.unlink(path)
    except OSError as error:
        module.fail_json(msg=f"systemd_dropins: {error.filename}: {error.strerror}")
    result = dict(changed=changed or bool(removed), changed_units=changed_units, removed=removed)
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


def main() -> None:
    run_module()


if __name__ == "__main__":
    main()
