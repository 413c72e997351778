#!/usr/bin/python3
"""A tier-0 stand-in for the SSH door or the front proxy, for the container-wide OOM drill.

It holds HOLD_MIB of written (so resident) memory from start and sleeps. It is deliberately
BIGGER than the tier-1 hog holds during the drill: in a container without CAP_SYS_RESOURCE
tier 0 keeps oom_score_adj 0, so only the +100 the role gives tier 1 makes the kernel pick
the hog over the door. Run directly (shebang, not `python3 script`) so its comm is
`smallvps-door`, the name smallvps_services lists for it.
"""

import os
import time

# The VM's door holds less ($SMALLVPS_DOOR_MIB): its test is MemoryLow, not the container drill.
HOLD_MIB = int(os.environ.get("SMALLVPS_DOOR_MIB", "120"))
hoard = [bytes([2]) * (1024 * 1024) for _ in range(HOLD_MIB)]

while True:
    time.sleep(3600)
