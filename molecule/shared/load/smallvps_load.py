#!/usr/bin/env python3
"""Load client for the tests: stdlib only (http.client + threads), loopback only.

Run inside a test host against its own loopback; each run prints ONE JSON document on stdout.
A URL (or --source) that is not loopback (127.0.0.0/8, localhost, ::1) is refused, exit 2.
Every request has its own connection and a timeout (--timeout, default 10 s; 30 s for
concurrent); every mode is bounded: at most 2000 requests, at most 120 s.

  burst      --url URL --count N [--source ADDR]
             N requests released at the same moment by a barrier, each on its own connection;
             --source binds the client socket to that local address (e.g. 127.0.0.2).
             {"sent", "status": {"200": n, "429": n}, "errors": {"ClassName": n}, "seconds"}
  rate       --url URL --rps R --seconds T [--skip S]
             R requests a second, evenly spaced, for T seconds, each sent from a small thread
             pool so a slow answer does not delay the schedule. "accepted" counts 2xx answers;
             "accepted_rate" is the 2xx answers sent at or after S s (default 2) over (T - S),
             the steady-state rate once a burst allowance is spent; "accepted_total_rate" is
             accepted / T; "max_lag" is the worst delay of a send behind its schedule.
  concurrent --url URL --count N [--timeout 30]
             N requests in parallel (barrier); "seconds" from the release to the last answer,
             and each request's latency (min, median, max).
  watch      --url URL --seconds T [--interval 0.05]
             one request after another, INTERVAL apart, until T s pass; statuses, errors by
             exception class (ConnectionRefusedError, RemoteDisconnected, TimeoutError, ...),
             "first_failure" (s from the start to the first answer that is not a 200, or an
             error), "first_recovery" (to the first 200 after it) and "recovered_after" (their
             difference), null where there was none.

Exit status: 0 when the run completed (whatever the answers), 2 for bad or non-loopback
arguments, 1 when the client itself could not run (e.g. no more threads).
"""

import argparse
import collections
import http.client
import ipaddress
import json
import socket
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

MAX_REQUESTS = 2000
MAX_SECONDS = 120
MAX_TIMEOUT = 300


def die(message, code=2):
    print(f"smallvps_load: {message}", file=sys.stderr)
    sys.exit(code)


def loopback(host):
    """True if host is a loopback literal, or localhost resolving only to loopback."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    if host.lower().rstrip(".") != "localhost":
        return False
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


class Target:
    def __init__(self, url, timeout, source):
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            die(f"not an http:// URL: {url}")
        if not loopback(parts.hostname):
            die(f"refusing {parts.hostname}: only loopback (127.0.0.0/8, localhost, ::1)")
        if source is not None and not loopback(source):
            die(f"refusing --source {source}: only loopback (127.0.0.0/8, localhost, ::1)")
        try:
            self.port = parts.port or 80
        except ValueError as exc:
            die(f"bad port in {url}: {exc}")
        self.host = parts.hostname
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.timeout = timeout
        self.source = (source, 0) if source else None

    def get(self):
        """One GET on a new connection: (status or None, exception class name or None)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout, source_address=self.source)
        try:
            conn.request("GET", self.path, headers={"Connection": "close"})
            response = conn.getresponse()
            response.read()
            return response.status, None
        except Exception as exc:  # every failure is a figure of the run
            return None, type(exc).__name__
        finally:
            conn.close()


def tally(results):
    status = collections.Counter(str(s) for s, _ in results if s is not None)
    errors = collections.Counter(e for _, e in results if e is not None)
    return dict(sorted(status.items())), dict(sorted(errors.items()))


def parallel(target, count):
    """count requests released together by a barrier: (results, latencies, wall seconds)."""
    results = [None] * count
    latencies = [None] * count
    done = [0.0] * count
    barrier = threading.Barrier(count + 1)

    def worker(i):
        try:
            barrier.wait(timeout=60)
        except threading.BrokenBarrierError:
            return
        start = time.monotonic()
        results[i] = target.get()
        done[i] = time.monotonic()
        latencies[i] = done[i] - start

    threading.stack_size(512 * 1024)
    threads = []
    try:
        for i in range(count):
            thread = threading.Thread(target=worker, args=(i,), daemon=True)
            thread.start()
            threads.append(thread)
    except RuntimeError as exc:
        barrier.abort()
        die(f"could not start {count} threads ({len(threads)} started): {exc}", code=1)
    barrier.wait(timeout=60)
    released = time.monotonic()
    for thread in threads:
        thread.join()
    return results, latencies, max(done) - released


def summary(values):
    if not values:
        return None
    return {"min": round(min(values), 3), "median": round(statistics.median(values), 3), "max": round(max(values), 3)}


def cmd_burst(args, target):
    results, _, wall = parallel(target, args.count)
    status, errors = tally(results)
    return {
        "mode": "burst",
        "url": args.url,
        "source": args.source,
        "sent": args.count,
        "status": status,
        "errors": errors,
        "seconds": round(wall, 3),
    }


def cmd_concurrent(args, target):
    results, latencies, wall = parallel(target, args.count)
    status, errors = tally(results)
    return {
        "mode": "concurrent",
        "url": args.url,
        "sent": args.count,
        "status": status,
        "errors": errors,
        "seconds": round(wall, 3),
        "latency": summary(latencies),
    }


def cmd_rate(args, target):
    if not 0 <= args.skip < args.seconds:
        die("--skip must be at least 0 and below --seconds")
    total = int(round(args.rps * args.seconds))
    if not 1 <= total <= MAX_REQUESTS:
        die(f"--rps x --seconds must make 1..{MAX_REQUESTS} requests (here {total})")
    records = []  # (send time, status, error), appended from the pool's threads
    lock = threading.Lock()
    t0 = time.monotonic()

    def send(scheduled):
        sent = time.monotonic() - t0
        status, error = target.get()
        with lock:
            records.append((sent, sent - scheduled, status, error))

    # Enough threads for a second of answers that each take up to a second, no more.
    with ThreadPoolExecutor(max_workers=min(100, max(8, 2 * int(args.rps) + 1))) as pool:
        for i in range(total):
            scheduled = i / args.rps
            delay = t0 + scheduled - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(send, scheduled)
    wall = time.monotonic() - t0
    status, errors = tally([(s, e) for _, _, s, e in records])
    accepted = sum(1 for _, _, s, _ in records if s is not None and 200 <= s < 300)
    steady = sum(1 for t, _, s, _ in records if s is not None and 200 <= s < 300 and t >= args.skip)
    return {
        "mode": "rate",
        "url": args.url,
        "source": args.source,
        "rps": args.rps,
        "seconds": args.seconds,
        "skip": args.skip,
        "sent": len(records),
        "status": status,
        "errors": errors,
        "accepted": accepted,
        "accepted_rate": round(steady / (args.seconds - args.skip), 3),
        "accepted_total_rate": round(accepted / args.seconds, 3),
        "max_lag": round(max(lag for _, lag, _, _ in records), 3),
        "wall_seconds": round(wall, 3),
    }


def cmd_watch(args, target):
    statuses = collections.Counter()
    errors = collections.Counter()
    first_failure = first_recovery = last_failure = None
    polls = 0
    t0 = time.monotonic()
    while True:
        now = time.monotonic() - t0
        if now >= args.seconds:
            break
        status, error = target.get()
        polls += 1
        if error:
            errors[error] += 1
        else:
            statuses[str(status)] += 1
        if status != 200:
            last_failure = now
            if first_failure is None:
                first_failure = now
        elif first_failure is not None and first_recovery is None:
            first_recovery = now
        time.sleep(args.interval)
    wall = time.monotonic() - t0

    def r(value):
        return None if value is None else round(value, 3)

    return {
        "mode": "watch",
        "url": args.url,
        "source": args.source,
        "seconds": round(wall, 3),
        "polls": polls,
        "status": dict(sorted(statuses.items())),
        "errors": dict(sorted(errors.items())),
        "first_failure": r(first_failure),
        "last_failure": r(last_failure),
        "first_recovery": r(first_recovery),
        "recovered_after": r(None if first_recovery is None else first_recovery - first_failure),
    }


def bounded(kind, low, high):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a {kind.__name__}: {text}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is not in {low}..{high}")
        return value

    return parse


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="smallvps_load.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="mode", required=True, metavar="MODE")

    def mode(name, helptext, timeout=10.0):
        p = sub.add_parser(name, help=helptext, description=helptext)
        p.add_argument("--url", required=True, help="http://HOST[:PORT]/PATH, HOST loopback only")
        p.add_argument(
            "--timeout",
            type=bounded(float, 0.1, MAX_TIMEOUT),
            default=timeout,
            help=f"seconds per request (connect, and each read), default {timeout:g}",
        )
        p.add_argument("--source", metavar="ADDR", help="bind the client socket to this loopback address")
        return p

    p = mode("burst", "COUNT requests at the same moment, each on its own connection")
    p.add_argument("--count", type=bounded(int, 1, MAX_REQUESTS), required=True, help=f"requests, 1..{MAX_REQUESTS}")
    p.set_defaults(run=cmd_burst)
    p = mode("rate", "RPS requests a second, evenly spaced, for SECONDS")
    p.add_argument(
        "--rps",
        type=bounded(float, 0.1, MAX_REQUESTS),
        required=True,
        help=f"requests a second; RPS x SECONDS at most {MAX_REQUESTS}",
    )
    p.add_argument("--seconds", type=bounded(float, 0.1, MAX_SECONDS), required=True, help=f"at most {MAX_SECONDS}")
    p.add_argument(
        "--skip", type=float, default=2.0, help="accepted_rate counts answers sent from this second on, default 2"
    )
    p.set_defaults(run=cmd_rate)
    p = mode("concurrent", "COUNT requests in parallel; wall time to the last answer", timeout=30.0)
    p.add_argument("--count", type=bounded(int, 1, MAX_REQUESTS), required=True, help=f"requests, 1..{MAX_REQUESTS}")
    p.set_defaults(run=cmd_concurrent)
    p = mode("watch", "poll for SECONDS; statuses, errors, time to recover")
    p.add_argument("--seconds", type=bounded(float, 0.1, MAX_SECONDS), required=True, help=f"at most {MAX_SECONDS}")
    p.add_argument("--interval", type=bounded(float, 0.01, 10), default=0.05, help="pause between polls, default 0.05")
    p.set_defaults(run=cmd_watch)

    args = parser.parse_args(argv)
    target = Target(args.url, args.timeout, args.source)
    print(json.dumps(args.run(args, target)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
