"""Generate the reference docs from the single sources of truth.

`docs/events.md` comes from the event catalogue (and the normalizer's routing table),
`docs/schema.md` from the table schema and the shared views. `tests/test_schema.py` fails
when a committed doc differs from what this module generates. Regenerate (from the
checkout's root) with:

    python -m rtlens.docsgen
"""

from __future__ import annotations

import sys
from pathlib import Path

from rtlens.catalogue import CATALOGUE
from rtlens.schema import SCHEMA_VERSION, TABLES

DOCS = Path("docs")  # relative to the checkout, where this is run


def events_md() -> str:
    from rtlens.ingest.handlers import HANDLERS

    lines = [
        "# Event catalogue",
        "",
        "Generated from `rtlens/catalogue.py` by `python -m rtlens.docsgen`; do not edit.",
        "",
        "Every event of both dialects and both directions. `canonical` is what",
        "`events.canonical_type` holds (the GA name where GA has the event). Every event line",
        "feeds the `events` table; **feeds** lists the other tables the normalizer fills from",
        "it. Unknown types are kept in `events` with `known = false`.",
        "",
    ]
    for direction in ("server", "client"):
        specs = [s for s in CATALOGUE if s.direction == direction]
        lines += [
            f"## {direction.capitalize()} events ({len(specs)})",
            "",
            "| canonical | beta wire type | GA wire type | feeds | what it is |",
            "| --- | --- | --- | --- | --- |",
        ]
        for s in specs:
            beta = "<br>".join(f"`{n}`" for n in s.beta) or "—"
            ga = "<br>".join(f"`{n}`" for n in s.ga) or "—"
            feeds = ", ".join(f"`{f}`" for f in s.feeds) or "—"
            if s.canonical not in HANDLERS and s.feeds:
                feeds += " (no handler!)"
            audio = f" Base64 audio in `{s.audio_field}`." if s.audio_field else ""
            lines.append(f"| `{s.canonical}` | {beta} | {ga} | {feeds} | {s.doc}{audio} |")
        lines.append("")
    return "\n".join(lines)


def schema_md() -> str:
    from rtlens.store.views import VIEWS

    lines = [
        "# Table schema",
        "",
        f"Generated from `rtlens/schema.py` (schema version {SCHEMA_VERSION}) by",
        "`python -m rtlens.docsgen`; do not edit. The same text is in the database as",
        "`COMMENT ON` (see `duckdb_columns()`).",
        "",
        "Units are in the names: `*_ms` is milliseconds (since the session's first event for",
        "points in time, else a duration), `*_ts` a UTC timestamp (µs), `*_tokens`, `*_bytes`,",
        "`*_usd`. Columns marked *extra* are rtlens additions to SPEC §3. Metric definitions",
        "(start and end event of each) are in [metrics.md](metrics.md).",
        "",
    ]
    for table in TABLES.values():
        lines += [
            f"## {table.name}",
            "",
            table.doc,
            "",
            "| column | type | | meaning |",
            "| --- | --- | --- | --- |",
        ]
        for c in table.columns:
            lines.append(f"| `{c.name}` | {c.type} | {'extra' if c.extra else ''} | {c.doc} |")
        lines.append("")
    lines += [
        "## Views",
        "",
        "Created in every rtlens database; the report, `rtlens query`",
        "and the notebooks use them.",
        "",
    ]
    for view in VIEWS:
        lines += [
            f"### {view.name}",
            "",
            view.doc,
            "",
            "```sql",
            "\n".join(line.strip() for line in view.sql.strip().splitlines()),
            "```",
            "",
        ]
    return "\n".join(lines)


GENERATED = {"events.md": events_md, "schema.md": schema_md}


def write_all(docs_dir: Path = DOCS) -> list[Path]:
    docs_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in GENERATED.items():
        path = docs_dir / name
        path.write_text(make(), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for written in write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS):
        sys.stdout.write(f"wrote {written}\n")
