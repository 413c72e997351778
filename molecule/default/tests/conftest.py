"""The default scenario's host has its variables in the inventory directory's other sources.

molecule/conftest.py runs playbooks with `-i $MOLECULE_INVENTORY_FILE`, molecule's
ansible_inventory.yml alone; here smallvps-demo's variables are in the linked hosts file
(inventory/hosts.yml), host_vars (the example's app box) and group_vars (the example's) beside
it. The tests' playbooks read the whole directory, as molecule's own runs and testinfra do.
"""

import os
from pathlib import Path

if Path(os.environ.get("MOLECULE_INVENTORY_FILE", "")).is_file():
    os.environ["MOLECULE_INVENTORY_FILE"] = str(Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent)
