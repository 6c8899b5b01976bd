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


def events_md() -> str:
    from rtlens.ingest.handlers import HANDLERS

    lines = [
        "# Event catalogue",
        "",
        "Generated from `rtlens/catalogue.py` by `python -m rtlens.docsgen`; do not edit.",
        "",
        "Every event of both dialects and both directions. `canonical` is what",
        "`events.canonical_type` holds (the GA name where GA has the event). Every event line",
        "feeds the `events` table; **feeds** lists the other tables whose rows the event can",
        "set or change, directly or through what it links (a response to its turn, an error",
        "to the request it refuses; `sessions` whenever its counts or totals can move).",
        "Unknown types are kept in `events` with `known = false`.",
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
        "## rtlens_files (internal)",
        "",
        "What the database remembers of each file it loaded, so that `rtlens ingest` reads",
        "only new and changed files (`--full` reads all): `source_file` (resolved path),",
        "`size`, `mtime_ns`, `fingerprint` (BLAKE2b of the first and last 8 KiB),",
        "`rtlens_version`, `session_id`, `ingested_at`. A row goes with its session: replacing",
        "or deleting the session forgets the file. Not part of the stable schema.",
        "",
        "## Parquet layout and rtlens_parquet (internal)",
        "",
        "`rtlens ingest --parquet DIR` writes `DIR/<table>/date=<YYYY-MM-DD|unknown>/` (the",
        "UTC date the session started: a Hive partition key, so readers get a `date` column)",
        "with one file per run, table and date: `run-<run id>-<n>.parquet`. Rules:",
        "",
        "- a run adds files holding the rows of the sessions it loaded;",
        "- it deletes the files holding only sessions it replaced (a changed or grown",
        "  recording, or a session now loaded from another file), and rewrites without those",
        "  sessions the files that also hold others;",
        "- a file's own error row (`ingest_errors` without a session) belongs to its file, and",
        "  is replaced when the file is read again;",
        "- a folder the database has not written before, or one with remembered files",
        "  missing, and any run with `--full`, is written whole (each table's folder emptied",
        "  first);",
        "- an empty table is one empty file `date=unknown/empty.parquet`, so it reads back",
        "  with its columns.",
        "",
        "`rtlens_parquet` (`out_dir`, `table_name`, `path` relative to `out_dir`, `key`)",
        "remembers which sessions (or `file:<path>` for a file's own errors) each file holds.",
        "",
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


def samples_md(root: Path = Path()) -> str:
    """sample_logs/README.md: what each bundled recording shows, with its numbers."""
    from rtlens.ingest.normalize import normalize_file
    from rtlens.simulator.samples import SAMPLES

    lines = [
        "# Sample logs",
        "",
        "Generated by `python -m rtlens.docsgen`; do not edit. Recorded by rtlens itself:",
        "each is a scripted app (`rtlens/simulator/apps/`) talking through `rtlens record` to",
        "`rtlens simulate`, in real time, so the timings are realistic. Regenerate them with",
        "`python -m rtlens.simulator.samples sample_logs/` (about 40 s; ids and timings change,",
        "so re-run `python -m rtlens.docsgen` and the golden-file update afterwards:",
        "`pytest tests/test_golden.py --update-golden`).",
        "",
        "Most were recorded with `--redact-audio` to stay small: base64 audio is replaced by",
        '`""` and the line carries `audio_bytes`, so durations are still exact. Two keep their',
        "audio (G.711 and push-to-talk pcm16).",
        "",
        "| file | dialect | audio | turns | responses | barge-ins | errors | size "
        "| what it shows |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for sample in SAMPLES:
        path = root / "sample_logs" / f"{sample.name}.jsonl"
        tables = normalize_file(path).rows
        session = dict(zip(TABLES["sessions"].column_names, tables["sessions"][0], strict=True))
        audio = "redacted" if sample.redact_audio else session["input_audio_format"]
        lines.append(
            f"| `{path.name}` | {session['dialect']} | {audio} | {session['n_turns']} | "
            f"{session['n_responses']} | {session['n_interruptions']} | {session['n_errors']} | "
            f"{path.stat().st_size / 1000:.0f} kB | {sample.shows} |"
        )
    return "\n".join(lines) + "\n"


GENERATED = {
    "docs/events.md": events_md,
    "docs/schema.md": schema_md,
    "sample_logs/README.md": samples_md,
}


def write_all(root: Path = Path()) -> list[Path]:
    """Write every generated doc under `root` (the checkout)."""
    written = []
    for name, make in GENERATED.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make(), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for written in write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else Path()):
        sys.stdout.write(f"wrote {written}\n")
