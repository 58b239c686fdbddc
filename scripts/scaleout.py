#!/usr/bin/env python3
"""The load of scripts/bench-scaleout: logged-in visitors (each its own session, its own
loopback address and keep-alive connection) asking for pages as fast as they are answered —
a recording's page, the catalog, their account page — through the balancer, whose cache a
session cookie bypasses: every request reaches a replica. Or anonymous visitors (--anonymous)
asking for the same pages, which the balancer answers from its cache.

    scaleout.py BASE --visitors N --seconds S [--warm W] [--anonymous]

Prints one JSON line: requests, throughput (per second), p50/p99 (ms), failures, and this
process's own CPU seconds (it shares the machine's cores with what it measures).
"""
import argparse
import asyncio
import json
import random
import re
import resource
import time

import aiohttp

CSRF = re.compile(r'name="csrf"[^>]*value="([^"]+)"')
RECORDING = re.compile(r'href="/recordings/([a-z0-9-]+)"')
ACCOUNTS = ["paul_h", "marta", "soundwalker", "aurelie", "listener", "jonas"]
PASSWORD = "listen-in-the-round"


def address(n):
    return f"127.{20 + n // 62500}.{n // 250 % 250 + 1}.{n % 250 + 1}"


async def visitor(n, base, slugs, anonymous, ready, start, clock, out):
    connector = aiohttp.TCPConnector(limit=1, local_addr=(address(n), 0))
    async with aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.CookieJar(unsafe=True),
        timeout=aiohttp.ClientTimeout(total=30),
    ) as s:
        if not anonymous:
            async with s.get(base + "/login") as r:
                token = CSRF.search(await r.text()).group(1)
            form = {"csrf": token, "next": "/", "username": ACCOUNTS[n % len(ACCOUNTS)],
                    "password": PASSWORD}
            status = None
            for _ in range(120):
                # As a browser's form post: the site answers it with a redirect.
                async with s.post(base + "/api/login", data=form, allow_redirects=False,
                                  headers={"Accept": "text/html", "Origin": base,
                                           "Referer": base + "/login"}) as r:
                    await r.read()
                    status = r.status
                    # Logged in: sent on to `next`. A form error (busy: the password queue
                    # is full while everyone logs in at once) goes back to the form.
                    if status in (302, 303) and "/login" not in r.headers.get("Location", ""):
                        break
                    await asyncio.sleep(float(r.headers.get("Retry-After", "1")) * random.uniform(1, 2))
            if status not in (302, 303):
                out["failures"].append(f"visitor {n}: could not log in ({status})")
                ready.release()
                return
        ready.release()
        await start.wait()
        warm_until, stop_at = clock["warm_until"], clock["stop_at"]
        paths = [f"/recordings/{random.choice(slugs)}", "/catalog"]
        if not anonymous:
            paths.append("/account")
        i = n
        while (now := time.monotonic()) < stop_at:
            path = paths[i % len(paths)]
            if path.startswith("/recordings/"):
                path = f"/recordings/{slugs[i % len(slugs)]}"
            i += 1
            t = time.monotonic()
            try:
                async with s.get(base + path, allow_redirects=False,
                                 headers={"Accept": "text/html"}) as r:
                    await r.read()
                    ok = r.status == 200
            except Exception as e:  # noqa: BLE001 - counted and told
                ok = False
                r = e
            took = time.monotonic() - t
            if now >= warm_until:
                if ok:
                    out["latency"].append(took)
                else:
                    out["failures"].append(f"GET {path}: {getattr(r, 'status', r)}")


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("base")
    p.add_argument("--visitors", type=int, default=64)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--warm", type=float, default=5)
    p.add_argument("--anonymous", action="store_true")
    a = p.parse_args()
    async with aiohttp.ClientSession() as s:
        async with s.get(a.base + "/catalog") as r:
            slugs = sorted(set(RECORDING.findall(await r.text())))[:20]
    out = {"latency": [], "failures": []}
    start, ready, clock = asyncio.Event(), asyncio.Semaphore(0), {}
    tasks = [asyncio.ensure_future(visitor(n, a.base, slugs, a.anonymous, ready, start, clock, out))
             for n in range(a.visitors)]
    # Sessions first (a password check each), then everyone at once.
    for _ in range(a.visitors):
        await ready.acquire()
    now = time.monotonic()
    clock["warm_until"], clock["stop_at"] = now + a.warm, now + a.warm + a.seconds
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    start.set()
    await asyncio.gather(*tasks)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    lat = sorted(out["latency"])
    q = lambda f: round(lat[min(len(lat) - 1, int(f * len(lat)))] * 1000, 1) if lat else None
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    print(json.dumps({
        "requests": len(lat),
        "per_second": round(len(lat) / a.seconds, 1),
        "p50_ms": q(0.5),
        "p99_ms": q(0.99),
        "failures": len(out["failures"]),
        "failure_examples": out["failures"][:3],
        "generator_cpu_share": round(cpu / (a.warm + a.seconds), 2),
    }))


asyncio.run(main())
