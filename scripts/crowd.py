#!/usr/bin/env python3
"""Load for scripts/bench-crowd (asyncio + aiohttp); each part prints one JSON object.

Every client has its own loopback address (127.x.y.z) and its own keep-alive connection.
An answer that asks to wait (429 or 503 with Retry-After) is waited for and the request
sent again, as a person would; anything else that is not the expected answer is a failure.

    crowd.py crowd BASE --visitors N --signups M [--burst-s 10] [--clicks 12] [--think 2,6]
                   [--workers 4]
        Visitors click through the site with a think time between clicks; M of them sign
        up in the first seconds, comment on and rate a recording, and browse on as members.
        They are shared among worker processes; a witness in the main process opens a
        cached page and a recording page every quarter second on its own connection.
    crowd.py storm BASE [--accounts 10] [--per-s 20] [--seconds 45] [--readers 20]
        Accounts rate the first catalog page's recordings (half of the ratings the same
        stars again) while readers fetch the list pages: the balancer's hit ratio on them,
        and how far behind the ratings each /catalog answer's cards are (by their count of
        ratings, from the moment the rating that changed it was answered).
    crowd.py signups BASE [--per-s 100] [--seconds 20]
        Sign-ups from as many addresses while a reader fetches a cached page and /readyz:
        their latency, /readyz failures, and how the sign-ups were answered.
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
TAG = re.compile(r'href="/tags/([a-z0-9-]+)"')
PASSWORD = "crowd-password-1"


def address(n):
    """The n-th client's own loopback address: 127.10.1.1 on (never the servers' 127.0.0.1)."""
    return f"127.{10 + n // 62500}.{n // 250 % 250 + 1}.{n % 250 + 1}"


class Tally:
    def __init__(self):
        # A visitor's requests by who sent them; the sign-up form's own posts apart (they
        # wait for a password hash at low priority, and are timed whole in `signup_s`).
        self.latency = {"anonymous": [], "member": [], "sign_up_post": []}
        self.failures = []
        self.waits = {"429": 0, "503": 0}
        self.signed_up = 0
        self.comments = 0
        self.ratings = 0
        self.requests = 0
        # Requests slower than a second, by what was asked, how it was answered and how the
        # balancer's cache answered it (X-Cache): where the slow tail comes from.
        self.slow = {}
        # From sending the sign-up form to the account made, busy answers included.
        self.signup_s = []

    def took(self, kind, seconds, method, path, status, cache):
        self.latency[kind].append(seconds)
        if seconds > 1.0:
            what = f"{method} {path.split('?')[0].rsplit('/', 1)[0] or path} {status} {cache}"
            self.slow[what] = self.slow.get(what, 0) + 1

    def failed(self, what):
        if len(self.failures) < 20:
            self.failures.append(what)
        else:
            self.failures.append(None)


class Visitor:
    def __init__(self, n, base, tally, links):
        self.n, self.base, self.tally, self.links = n, base, tally, links
        self.address = address(n)
        self.member = False
        self.session = None

    async def __aenter__(self):
        connector = aiohttp.TCPConnector(limit=1, local_addr=(self.address, 0), force_close=False)
        self.session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            timeout=aiohttp.ClientTimeout(total=120),
        )
        return self

    async def __aexit__(self, *exc):
        await self.session.close()

    async def send(self, method, path, data=None, expect=(200,), tries=20):
        """One request, sent again after the wait it is asked for; (status, text) or None."""
        for _ in range(tries):
            started = time.monotonic()
            try:
                async with self.session.request(
                    method, self.base + path, data=data, allow_redirects=False,
                    headers={"Accept": "text/html" if method == "GET" else "*/*"},
                ) as r:
                    text = await r.text()
                    status, retry = r.status, r.headers.get("Retry-After")
                    cache = r.headers.get("X-Cache", "-")
            except Exception as e:  # noqa: BLE001 - every failure is counted and told
                self.tally.failed(f"{method} {path}: {type(e).__name__} {e}")
                return None
            self.tally.requests += 1
            kind = ("member" if self.member
                    else "sign_up_post" if path == "/api/register" else "anonymous")
            self.tally.took(kind, time.monotonic() - started, method, path, status, cache)
            if status in (429, 503) and retry is not None:
                self.tally.waits[str(status)] += 1
                await asyncio.sleep(float(retry) * random.uniform(1.0, 1.5))
                continue
            if status not in expect:
                self.tally.failed(f"{method} {path}: {status}")
                return None
            return status, text
        self.tally.failed(f"{method} {path}: still asked to wait after {tries} tries")
        return None

    async def browse(self):
        links = self.links
        choice = random.random()
        if choice < 0.15:
            path = "/"
        elif choice < 0.35:
            path = random.choice(["/catalog", "/catalog?sort=rating", "/catalog?sort=downloads",
                                  f"/catalog?page={random.randint(2, 3)}"])
        elif choice < 0.5 and links["tags"]:
            path = f"/tags/{random.choice(links['tags'])}"
        elif choice < 0.55:
            path = "/feed.rss"
        else:
            path = f"/recordings/{random.choice(links['recordings'])}"
        await self.send("GET", path)

    async def sign_up(self):
        got = await self.send("GET", "/register")
        if not got or not (m := CSRF.search(got[1])):
            self.tally.failed("GET /register: no form token")
            return False
        name = f"crowd{self.n}x{random.randint(0, 10**6)}"
        form = {"csrf": m.group(1), "username": name, "email": f"{name}@example.org",
                "password": PASSWORD, "next": "/"}
        # A person told "busy, try again in a moment" during a storm of sign-ups tries again
        # for up to about two minutes before giving up.
        began = time.monotonic()
        if not await self.send("POST", "/api/register", form, expect=(200, 302, 303), tries=48):
            return False
        self.tally.signup_s.append(time.monotonic() - began)
        self.member = True
        self.tally.signed_up += 1
        return True

    async def take_part(self):
        slug = random.choice(self.links["recordings"])
        got = await self.send("GET", f"/recordings/{slug}")
        if not got or not (m := CSRF.search(got[1])):
            self.tally.failed(f"GET /recordings/{slug}: no form token for a member")
            return
        token = m.group(1)
        comment = {"csrf": token, "slug": slug, "title": "", "body": f"Heard it, visitor {self.n}."}
        if await self.send("POST", "/api/comment", comment, expect=(200, 302, 303)):
            self.tally.comments += 1
        rating = {"csrf": token, "slug": slug, "stars": str(random.randint(1, 5))}
        if await self.send("POST", "/api/rate", rating, expect=(200, 302, 303)):
            self.tally.ratings += 1

    async def run(self, start_at, signs_up, clicks, think):
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        if signs_up and await self.sign_up():
            await self.take_part()
        for _ in range(clicks):
            await asyncio.sleep(random.uniform(*think))
            await self.browse()


def quantiles(xs):
    if not xs:
        return {}
    xs = sorted(xs)
    at = lambda q: round(xs[min(len(xs) - 1, int(q * len(xs)))] * 1000, 1)  # noqa: E731
    return {"n": len(xs), "p50_ms": at(0.5), "p95_ms": at(0.95), "p99_ms": at(0.99),
            "max_ms": round(xs[-1] * 1000, 1)}


async def lag_monitor(lags, stop):
    """How late the generator's own loop wakes (its share of any latency seen)."""
    while not stop.is_set():
        t = time.monotonic()
        await asyncio.sleep(0.05)
        lags.append(time.monotonic() - t - 0.05)


def crowd(a):
    """The visitors, shared among --workers processes (one Python thread cannot keep thousands
    of connections busy without becoming the latency it measures), and a witness: one more
    visitor in this process, on its own address, opening a cached page and a recording page
    every quarter second — what a person arriving during the crowd sees."""
    import multiprocessing
    import urllib.request

    with urllib.request.urlopen(a.base + "/catalog") as r:
        html = r.read().decode()
    links = {"recordings": sorted(set(RECORDING.findall(html))), "tags": sorted(set(TAG.findall(html)))}
    if not links["recordings"]:
        raise SystemExit("crowd.py: the catalog shows no recordings")
    signers = set(random.sample(range(a.visitors), a.signups))
    began = time.time() + 1.0
    jobs = [(a, links, signers, began, w) for w in range(a.workers)]
    with multiprocessing.get_context("fork").Pool(a.workers) as pool:
        pending = pool.map_async(crowd_worker, jobs)
        witness = asyncio.run(witness_until(a.base, links, pending))
        parts = pending.get()
    wall = max(p["wall_end"] for p in parts) - began
    tally = Tally()
    for p in parts:
        for kind in tally.latency:
            tally.latency[kind] += p["latency"][kind]
        tally.failures += p["failures"]
        for k, v in p["waits"].items():
            tally.waits[k] += v
        for k, v in p["slow"].items():
            tally.slow[k] = tally.slow.get(k, 0) + v
        tally.signed_up += p["signed_up"]
        tally.comments += p["comments"]
        tally.ratings += p["ratings"]
        tally.requests += p["requests"]
        tally.signup_s += p["signup_s"]
    print(json.dumps({
        "visitors": a.visitors, "signups_planned": a.signups, "seconds": round(wall, 1),
        "requests": tally.requests, "failed": len(tally.failures),
        "failures": [f for f in tally.failures if f][:20], "asked_to_wait": tally.waits,
        "signed_up": tally.signed_up, "comments_posted": tally.comments,
        "ratings_posted": tally.ratings,
        "anonymous": quantiles(tally.latency["anonymous"]),
        "member": quantiles(tally.latency["member"]),
        "sign_up_post": quantiles(tally.latency["sign_up_post"]),
        "signing_up_until_made": quantiles(tally.signup_s),
        "witness_cached_page": quantiles(witness["cached"]),
        "witness_recording_page": quantiles(witness["recording"]),
        "witness_failures": witness["failures"],
        "generator_workers": a.workers,
        "generator_cpu_share_of_one_core": round(sum(p["cpu"] for p in parts) / wall, 2),
        "generator_loop_lag_p99_ms": max((p["lag_p99_ms"] or 0) for p in parts),
        "slower_than_1s": dict(sorted(tally.slow.items(), key=lambda kv: -kv[1])[:8]),
    }))


async def witness_until(base, links, pending):
    seen = {"cached": [], "recording": [], "failures": 0}
    slug = links["recordings"][0]
    connector = aiohttp.TCPConnector(limit=1, local_addr=(address(90_000), 0))
    async with aiohttp.ClientSession(connector=connector) as s:
        while not pending.ready():
            for kind, path in (("cached", "/catalog"), ("recording", f"/recordings/{slug}")):
                t = time.monotonic()
                try:
                    async with s.get(base + path) as r:
                        await r.read()
                        ok = r.status == 200
                except Exception:  # noqa: BLE001 - counted
                    ok = False
                if ok:
                    seen[kind].append(time.monotonic() - t)
                else:
                    seen["failures"] += 1
            await asyncio.sleep(0.25)
    return seen


def crowd_worker(job):
    a, links, signers, began, w = job
    random.seed(w * 7919 + int(began))
    return asyncio.run(crowd_part(a, links, signers, began, w))


async def crowd_part(a, links, signers, began, w):
    think = tuple(float(x) for x in a.think.split(","))
    tally, lags, stop = Tally(), [], asyncio.Event()
    monitor = asyncio.create_task(lag_monitor(lags, stop))
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.monotonic() + (began - time.time())

    async def one(n):
        signs_up = n in signers
        window = a.burst_s if signs_up else a.arrive_s
        async with Visitor(n, a.base, tally, links) as v:
            await v.run(start + random.uniform(0, window), signs_up, a.clicks, think)

    await asyncio.gather(*(one(n) for n in range(w, a.visitors, a.workers)))
    stop.set()
    await monitor
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "latency": tally.latency, "failures": tally.failures, "waits": tally.waits,
        "slow": tally.slow, "signed_up": tally.signed_up, "comments": tally.comments,
        "ratings": tally.ratings, "requests": tally.requests, "wall_end": time.time(),
        "signup_s": tally.signup_s,
        "cpu": (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime),
        "lag_p99_ms": quantiles(lags).get("p99_ms"),
    }


STORM_LISTS = ["/", "/catalog", "/catalog?sort=rating", "/feed.rss"]
CARD = re.compile(r'<article data-testid="recording-card".*?</article>', re.S)
CARD_RATING = re.compile(r'title="([0-9.]+) of 5 from ([0-9]+) ratings"')


def cards(html):
    """slug -> (average, count) of every card on a page."""
    shown = {}
    for block in CARD.findall(html):
        slug = RECORDING.search(block)
        if slug:
            r = CARD_RATING.search(block)
            shown[slug.group(1)] = (float(r.group(1)), int(r.group(2))) if r else (0.0, 0)
    return shown


async def storm(a):
    async with aiohttp.ClientSession() as s:
        async with s.get(a.base + "/catalog?fresh=start") as r:
            start = cards(await r.text())
        async with s.get(a.base + "/catalog") as r:
            tag = (TAG.findall(await r.text()) or ["birds"])[0]
    targets = sorted(start)
    lists = STORM_LISTS + [f"/tags/{tag}"]
    # What each recording's card should show, and since when: the history of states.
    ours = {slug: {} for slug in targets}
    history = {slug: [(start[slug], 0.0)] for slug in targets}

    def expected(slug):
        avg0, n0 = start[slug]
        mine = ours[slug]
        n = n0 + len(mine)
        return ((avg0 * n0 + sum(mine.values())) / n if n else 0.0, n)

    raters = []
    for i in range(a.accounts):
        v = Visitor(50_000 + i, a.base, Tally(), {"recordings": targets, "tags": []})
        await v.__aenter__()
        if not await v.sign_up():
            raise SystemExit(f"crowd.py storm: account {i} could not sign up: {v.tally.failures}")
        got = await v.send("GET", f"/recordings/{targets[0]}")
        v.token = CSRF.search(got[1]).group(1)
        raters.append(v)

    began = time.monotonic()
    stop = asyncio.Event()
    tally = {"changed": 0, "unchanged": 0, "refused": 0}
    seen = {"HIT": 0, "STALE": 0, "MISS": 0, "other": 0}
    behind = []
    late_answers = {}

    async def rate_loop():
        i = 0
        while time.monotonic() - began < a.seconds:
            v = raters[i % len(raters)]
            slug = random.choice(targets)
            before = ours[slug].get(v.n)
            same = before is not None and random.random() < 0.5
            stars = before if same else random.choice([s for s in range(1, 6) if s != before])
            form = {"csrf": v.token, "slug": slug, "stars": str(stars)}
            if await v.send("POST", "/api/rate", form, expect=(200, 302, 303)):
                if same:
                    tally["unchanged"] += 1
                else:
                    tally["changed"] += 1
                    ours[slug][v.n] = stars
                    history[slug].append((expected(slug), time.monotonic() - began))
            else:
                tally["refused"] += 1
            i += 1
            await asyncio.sleep(max(0.0, began + i / a.per_s - time.monotonic()))
        stop.set()

    def lag(slug, shown, at):
        """How long ago the count of ratings `shown` stopped being current (0: it is). Counts
        only: the average a card shows is rounded, so it cannot tell two states apart."""
        states = history[slug]
        for k in range(len(states) - 1, -1, -1):
            (_, n), _ = states[k]
            if n == shown[1]:
                later = [since for (_, m), since in states[k + 1:] if m != n]
                return at - later[0] if later else 0.0
        return None

    async def read_loop(n):
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1, local_addr=(address(n), 0))
        ) as s:
            k = n
            while not stop.is_set():
                path = lists[k % len(lists)]
                k += 1
                try:
                    async with s.get(a.base + path) as r:
                        html = await r.text()
                        x = r.headers.get("X-Cache", "other")
                except Exception:  # noqa: BLE001 - counted as a miss of the cache
                    x = "other"
                    html = ""
                seen[x if x in seen else "other"] += 1
                if path == "/catalog" and html:
                    at = time.monotonic() - began
                    worst = 0.0
                    for slug, shown in cards(html).items():
                        if slug in history:
                            late = lag(slug, shown, at)
                            if late is not None:
                                behind.append(late)
                                worst = max(worst, late)
                    if worst > 5.0:
                        # How an answer more than 5 s behind was served: X-Cache and Age.
                        what = f"{x} age={r.headers.get('Age', '-')}"
                        late_answers[what] = late_answers.get(what, 0) + 1
                await asyncio.sleep(a.readers / a.read_per_s)

    await asyncio.gather(rate_loop(), *(read_loop(60_000 + n) for n in range(a.readers)))
    for v in raters:
        await v.__aexit__()
    served = sum(seen.values())
    print(json.dumps({
        "seconds": a.seconds, "ratings": tally, "list_requests": served, "x_cache": seen,
        "hit_ratio_lists": round((seen["HIT"] + seen["STALE"]) / max(1, served), 4),
        "catalog_cards_behind_s": {
            "n": len(behind),
            "p50": round(sorted(behind)[len(behind) // 2], 3) if behind else None,
            "p99": round(sorted(behind)[int(len(behind) * 0.99)], 3) if behind else None,
            "max": round(max(behind), 3) if behind else None,
        },
        "catalog_answers_over_5s_behind": dict(sorted(late_answers.items(), key=lambda kv: -kv[1])[:8]),
    }))


async def signups(a):
    tally = Tally()
    outcomes = {}
    page_lat, ready_fail, ready_n = [], [0], [0]
    stop = asyncio.Event()
    began = time.monotonic()

    async def one(n):
        await asyncio.sleep(n / a.per_s)
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1, local_addr=(address(n), 0)),
            cookie_jar=aiohttp.CookieJar(unsafe=True),
        ) as s:
            async with s.get(a.base + "/register") as r:
                token = CSRF.search(await r.text()).group(1)
            name = f"storm{n}x{random.randint(0, 10**6)}"
            form = {"csrf": token, "username": name, "email": f"{name}@example.org",
                    "password": PASSWORD, "next": "/"}
            async with s.post(a.base + "/api/register", data=form, allow_redirects=False) as r:
                key = str(r.status) + ("+retry-after" if "Retry-After" in r.headers else "")
                outcomes[key] = outcomes.get(key, 0) + 1

    async def watch(path, every, lat, fails, count):
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1, local_addr=(address(70_000 + len(path)), 0))
        ) as s:
            while not stop.is_set():
                t = time.monotonic()
                try:
                    async with s.get(a.base + path) as r:
                        await r.read()
                        ok = r.status == 200
                except Exception:  # noqa: BLE001 - a failed probe
                    ok = False
                if lat is not None:
                    lat.append(time.monotonic() - t)
                count[0] += 1
                if not ok:
                    fails[0] += 1
                await asyncio.sleep(every)

    total = int(a.per_s * a.seconds)
    watchers = [asyncio.create_task(watch("/catalog", 0.02, page_lat, [0], [0])),
                asyncio.create_task(watch("/readyz", 0.1, None, ready_fail, ready_n))]
    await asyncio.gather(*(one(n) for n in range(total)))
    stop.set()
    await asyncio.gather(*watchers)
    print(json.dumps({
        "signups_sent": total, "seconds": round(time.monotonic() - began, 1),
        "answers": outcomes, "cached_page": quantiles(page_lat),
        "readyz_probes": ready_n[0], "readyz_failures": ready_fail[0],
    }))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="part", required=True)
    c = sub.add_parser("crowd")
    c.add_argument("base")
    c.add_argument("--visitors", type=int, required=True)
    c.add_argument("--signups", type=int, required=True)
    c.add_argument("--burst-s", type=float, default=10.0)
    c.add_argument("--arrive-s", type=float, default=10.0)
    c.add_argument("--clicks", type=int, default=12)
    c.add_argument("--think", default="2,6")
    c.add_argument("--workers", type=int, default=4)
    s = sub.add_parser("storm")
    s.add_argument("base")
    s.add_argument("--accounts", type=int, default=10)
    s.add_argument("--per-s", type=float, default=20.0)
    s.add_argument("--seconds", type=float, default=45.0)
    s.add_argument("--readers", type=int, default=20)
    s.add_argument("--read-per-s", type=float, default=200.0)
    g = sub.add_parser("signups")
    g.add_argument("base")
    g.add_argument("--per-s", type=float, default=100.0)
    g.add_argument("--seconds", type=float, default=20.0)
    a = p.parse_args()
    if a.part == "crowd":
        crowd(a)
    else:
        asyncio.run({"storm": storm, "signups": signups}[a.part](a))


if __name__ == "__main__":
    main()
