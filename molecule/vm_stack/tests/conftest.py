"""The vm_stack scenario's host has variables in the inventory directory's other sources.

molecule/conftest.py runs playbooks with `-i $MOLECULE_INVENTORY_FILE`, molecule's ansible_inventory.yml
alone; here the demo app's variables are in the linked `hosts` file (inventory/hosts.yml) beside it and the
example's group_vars and host_vars are linked beside it too (molecule.yml). The tests' playbooks read the whole
directory, as molecule's own runs do.
"""

import os
from pathlib import Path

if Path(os.environ.get("MOLECULE_INVENTORY_FILE", "")).is_file():
    os.environ["MOLECULE_INVENTORY_FILE"] = str(Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent)
