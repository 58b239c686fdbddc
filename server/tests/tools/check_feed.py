#!/usr/bin/env python3
"""Reads feeds as podcast apps do — with feedparser, the library most Python feed and
podcast tools build on — and checks what podcast directories ask of them.

    check_feed.py BASE PATH [PATH …]        podcast feeds (RSS)
    check_feed.py --torrents BASE PATH      the torrent feed

For each podcast feed: well-formed; channel title, description, language, link,
itunes:image (a square PNG or JPEG of 1400–3000 px), itunes:category, itunes:explicit,
itunes:author, itunes:owner; podcast:guid equal to the UUIDv5 the Podcast Index namespace
specifies for the feed's URL; every item with a guid, pubDate, itunes:duration, itunes:image
and one audio/mpeg enclosure whose length is what its download gives and whose duration
(ffprobe) is the item's within a second. Prints one line per feed; exits 1 on the first
failure, saying what failed.
"""

import json
import struct
import subprocess
import sys
import tempfile
import urllib.request
import uuid
import xml.etree.ElementTree as ET

import feedparser

PODCAST_NS = "https://podcastindex.org/namespace/1.0"
ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
# The namespace's UUID, checked against its own example below.
PODCAST_GUID_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")
assert str(uuid.uuid5(PODCAST_GUID_NAMESPACE, "mp3s.nashownotes.com/pc20rss.xml")) == \
    "917393e3-1b1e-5cef-ace4-edaa54e1f810", "the Podcast Index namespace's example"


def fail(what):
    print(f"check_feed: {what}", file=sys.stderr)
    sys.exit(1)


def fetch(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.status, r.headers, r.read()


def image_size(data):
    """(width, height) of a PNG or JPEG."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return struct.unpack(">II", data[16:24])
    if data[:2] == b"\xff\xd8":
        i = 2
        while i < len(data):
            marker, length = data[i + 1], struct.unpack(">H", data[i + 2 : i + 4])[0]
            if marker in (0xC0, 0xC2):
                h, w = struct.unpack(">HH", data[i + 5 : i + 9])
                return w, h
            i += 2 + length
    fail("itunes:image is neither PNG nor JPEG")


def check_image(url, what):
    status, headers, body = fetch(url)
    w, h = image_size(body)
    if not (w == h and 1400 <= w <= 3000):
        fail(f"{what}: itunes:image {url} is {w}×{h}, not square 1400–3000 px")


def ffprobe_seconds(data):
    with tempfile.NamedTemporaryFile(suffix=".mp3") as f:
        f.write(data)
        f.flush()
        out = subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "format=duration,format_name",
             "-of", "json", f.name],
            capture_output=True, text=True, check=True,
        ).stdout
    fmt = json.loads(out)["format"]
    if fmt.get("format_name") != "mp3":
        fail(f"ffprobe reads the enclosure as {fmt.get('format_name')}, not mp3")
    return float(fmt["duration"])


def check_podcast(base, path):
    url = base + path
    status, headers, body = fetch(url)
    parsed = feedparser.parse(body)
    if parsed.bozo:
        fail(f"{path}: not well-formed: {parsed.bozo_exception}")
    feed = parsed.feed
    # feedparser's names: subtitle = description, author = itunes:author, tags =
    # itunes:category, publisher_detail = itunes:owner.
    for field in ("title", "subtitle", "language", "link", "image", "author", "tags",
                  "publisher_detail"):
        if not feed.get(field):
            fail(f"{path}: the channel has no {field}")
    # The raw XML for what feedparser does not name.
    root = ET.fromstring(body)
    channel = root.find("channel")
    guid = channel.findtext(f"{{{PODCAST_NS}}}guid")
    self_url = next(
        (l.get("href") for l in channel.findall("{http://www.w3.org/2005/Atom}link")
         if l.get("rel") == "self"), None)
    if self_url != url:
        fail(f"{path}: atom:link self is {self_url}, not {url}")
    want = str(uuid.uuid5(PODCAST_GUID_NAMESPACE, url.split("://", 1)[1].rstrip("/")))
    if guid != want:
        fail(f"{path}: podcast:guid {guid}, the namespace's UUIDv5 of the feed URL is {want}")
    if channel.find(f"{{{ITUNES_NS}}}category") is None:
        fail(f"{path}: no itunes:category")
    if channel.findtext(f"{{{ITUNES_NS}}}explicit") not in ("true", "false"):
        fail(f"{path}: no itunes:explicit")
    owner = channel.find(f"{{{ITUNES_NS}}}owner")
    if owner is None or not owner.findtext(f"{{{ITUNES_NS}}}name"):
        fail(f"{path}: no itunes:owner with a name")
    check_image(feed.image.href, path)
    if not parsed.entries:
        fail(f"{path}: no items")
    items = channel.findall("item")
    for entry, item in zip(parsed.entries, items):
        what = f"{path}: item {entry.get('title')!r}"
        for field in ("id", "published_parsed", "itunes_duration", "image"):
            if not entry.get(field):
                fail(f"{what}: no {field}")
        for tag in ("license", "person"):
            if item.find(f"{{{PODCAST_NS}}}{tag}") is None:
                fail(f"{what}: no podcast:{tag}")
        check_image(entry.image.href, what)
        enclosures = [l for l in entry.get("links", []) if l.get("rel") == "enclosure"]
        if len(enclosures) != 1 or enclosures[0].type != "audio/mpeg":
            fail(f"{what}: enclosures {enclosures}, not one audio/mpeg")
        enc = enclosures[0]
        status, headers, data = fetch(enc.href)
        if int(enc.length) != len(data):
            fail(f"{what}: the enclosure says {enc.length} bytes, its download gives {len(data)}")
        seconds = ffprobe_seconds(data)
        duration = float(entry.itunes_duration)
        if abs(seconds - duration) > 1.0:
            fail(f"{what}: ffprobe says {seconds:.2f} s, itunes:duration {duration} s")
        print(f"  {path}: {entry.title!r}: {len(data)} bytes of MP3, {seconds:.2f} s "
              f"(itunes:duration {duration:g} s)")
    print(f"ok {path}: {len(parsed.entries)} items, podcast:guid {guid}")


def check_torrents(base, path):
    status, headers, body = fetch(base + path)
    parsed = feedparser.parse(body)
    if parsed.bozo:
        fail(f"{path}: not well-formed: {parsed.bozo_exception}")
    if not parsed.entries:
        fail(f"{path}: no items")
    for entry in parsed.entries:
        enclosures = [l for l in entry.get("links", []) if l.get("rel") == "enclosure"]
        if len(enclosures) != 1 or enclosures[0].type != "application/x-bittorrent":
            fail(f"{path}: {entry.title!r}: enclosures {enclosures}")
        status, headers, data = fetch(enclosures[0].href)
        if int(enclosures[0].length) != len(data) or not data.startswith(b"d"):
            fail(f"{path}: {entry.title!r}: says {enclosures[0].length} bytes, gives {len(data)}")
        print(f"  {path}: {entry.title!r}: {len(data)}-byte torrent")
    print(f"ok {path}: {len(parsed.entries)} torrents")


def main(args):
    if args and args[0] == "--torrents":
        base, path = args[1], args[2]
        check_torrents(base, path)
        return
    base, paths = args[0], args[1:]
    for path in paths:
        check_podcast(base, path)


if __name__ == "__main__":
    main(sys.argv[1:])
