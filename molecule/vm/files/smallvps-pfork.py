#!/usr/bin/python3
"""A pre-fork tier-1 stand-in, like gunicorn: the master forks one worker (the hog's server,
run as smallvps-worker on port 8083) and forks a new one whenever the old one dies. When the
kernel OOM-kills the worker at MemoryMax, OOMPolicy=continue (the plan's default for runtime
python) keeps the master, and the unit, running.
"""

import os
import time

WORKER = "/usr/local/bin/smallvps-worker"

while True:
    pid = os.fork()
    if pid == 0:
        os.execve(WORKER, [WORKER], dict(os.environ, SMALLVPS_HOG_PORT="8083"))
    os.waitpid(pid, 0)
    time.sleep(0.2)  # a worker that dies at once must not make the master spin
