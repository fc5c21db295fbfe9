"""Files the upstream serves: binary bodies, a sparse download file and HTML pages with their gzip copies."""

from __future__ import annotations

import gzip
import random
from dataclasses import dataclass
from pathlib import Path

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

BODY_SIZES = {"2 KiB": 2 * KIB, "200 KiB": 200 * KIB}
"""Response bodies of the core scenarios, served as application/octet-stream so injection stays idle."""

PAGE_SIZES = {"20 KiB": 20 * KIB, "200 KiB": 200 * KIB, "2 MiB": 2 * MIB}
"""HTML documents of the injection scenarios."""

HEAD_MARKER = b"<h1>Purchase orders</h1>"
"""Text that closes the head part of every page, so a client can tell when the head has arrived."""


@dataclass(frozen=True)
class Fixtures:
    """Where the generated files are and the URL path of each."""

    root: Path
    download_size: int

    @staticmethod
    def body_path(label: str) -> str:
        return f"/body-{BODY_SIZES[label]}.bin"

    @staticmethod
    def page_path(label: str) -> str:
        return f"/pages/page-{PAGE_SIZES[label]}.html"

    @property
    def download_path(self) -> str:
        return f"/download-{self.download_size}.bin"


def page_head(title: str) -> bytes:
    """Return the start of a legacy-style HTML document, up to and including HEAD_MARKER."""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{title}</title>\n"
        "<link rel=\"stylesheet\" href=\"/static/legacy.css\">\n"
        "<style>table.grid td { padding: 2px 6px; border: 1px solid #ccc; }</style>\n"
        "<script src=\"/static/legacy.js\"></script>\n"
        "</head>\n<body>\n<div id=\"menu\"><a href=\"/orders\">Orders</a> | <a href=\"/suppliers\">Suppliers</a></div>\n"
    ).encode() + HEAD_MARKER + b"\n"


def page_rows(size: int, seed: int) -> bytes:
    """Return table rows of an order list, about `size` bytes, ending the document."""
    generator = random.Random(seed)
    parts = [b"<table class=\"grid\">\n<tr><th>No.</th><th>Supplier</th><th>Item</th><th>Qty</th><th>Amount</th></tr>\n"]
    length = len(parts[0])
    suppliers = ("Acme GmbH", "Nordwind AG", "Baltic Parts", "Kobe Steel", "Rio Textil")
    number = 0
    while length < size - 40:
        number += 1
        row = (
            f"<tr><td><a href=\"/orders/{100000 + number}\">{100000 + number}</a></td>"
            f"<td>{generator.choice(suppliers)}</td><td>Part {generator.randrange(1000, 9999)}</td>"
            f"<td>{generator.randrange(1, 500)}</td><td>{generator.randrange(100, 99999) / 100:.2f}</td></tr>\n"
        ).encode()
        parts.append(row)
        length += len(row)
    parts.append(b"</table>\n</body>\n</html>\n")
    return b"".join(parts)


def build_page(size: int) -> bytes:
    """Return an HTML document of about `size` bytes."""
    head = page_head(f"Orders ({size} bytes)")
    return head + page_rows(size - len(head), seed=size)


def write_fixtures(root: Path, download_size: int) -> Fixtures:
    """Write every file under `root`; the download file is sparse, so it takes no disk space."""
    root.mkdir(parents=True, exist_ok=True)
    generator = random.Random(2)
    for size in BODY_SIZES.values():
        (root / f"body-{size}.bin").write_bytes(generator.randbytes(size))
    with (root / f"download-{download_size}.bin").open("wb") as download:
        download.truncate(download_size)
    pages = root / "pages"
    pages.mkdir(exist_ok=True)
    for size in PAGE_SIZES.values():
        page = build_page(size)
        (pages / f"page-{size}.html").write_bytes(page)
        (pages / f"page-{size}.html.gz").write_bytes(gzip.compress(page, compresslevel=6, mtime=0))
    return Fixtures(root, download_size)
