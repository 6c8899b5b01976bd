"""The schema definition matches a real database, types the polars frames, and the
generated docs are up to date."""

from __future__ import annotations

import polars as pl
from builders import REPO

from rtlens import docsgen
from rtlens.schema import COMPRESSION, TABLES, polars_schema
from rtlens.store.db import connect
from rtlens.store.views import VIEWS

SPEC_COLUMNS = {
    "sessions": "session_id source_file started_ts ended_ts duration_ms dialect model voice "
    "turn_detection input_audio_format output_audio_format n_events n_responses n_turns "
    "n_interruptions n_errors",
    "events": "session_id seq ts t_ms direction type canonical_type known event_id response_id "
    "item_id audio_bytes raw",
    "responses": "session_id response_id status status_reason created_ms first_audio_ms "
    "first_text_ms done_ms ttfa_ms duration_ms audio_ms input_tokens output_tokens total_tokens "
    "cached_tokens input_text_tokens input_audio_tokens output_text_tokens output_audio_tokens "
    "cost_usd",
    "turns": "session_id turn item_id speech_started_ms speech_stopped_ms committed_ms "
    "response_id first_audio_ms v2v_ms transcript interrupted",
    "rate_limits": "session_id t_ms ts name limit remaining reset_seconds",
    "interruptions": "session_id response_id item_id speech_started_ms cancel_ms truncate_ms "
    "audio_generated_ms audio_played_ms audio_unheard_ms reason",
    "errors": "session_id t_ms type code message param client_event_id client_event_type",
    "function_calls": "session_id response_id call_id name arguments arguments_done_ms "
    "output_ms tool_ms",
    "transcriptions": "session_id item_id status transcript error latency_ms",
    "ingest_errors": "source_file line_no error raw",
}


def test_every_spec_column_exists_and_extras_are_marked():
    for table, names in SPEC_COLUMNS.items():
        columns = {c.name: c for c in TABLES[table].columns}
        for name in names.split():
            assert name in columns, f"{table}.{name}"
            assert not columns[name].extra, f"{table}.{name} is in SPEC, not an extra"
    for table in TABLES.values():
        for col in table.columns:
            if not col.extra:
                assert col.name in SPEC_COLUMNS[table.name].split(), f"{table.name}.{col.name}"


def test_schema_matches_a_real_database(tmp_path):
    con = connect(tmp_path / "x.duckdb")
    rows = con.execute(
        "SELECT table_name, column_name, data_type, comment FROM duckdb_columns() "
        "WHERE schema_name = 'main' AND NOT internal ORDER BY table_name, column_index"
    ).fetchall()
    actual: dict[str, list[tuple[str, str, str]]] = {}
    for table, column, dtype, comment in rows:
        actual.setdefault(table, []).append((column, dtype, comment))
    for name, table in TABLES.items():
        expected = [
            (c.name, "TIMESTAMP WITH TIME ZONE" if c.type == "TIMESTAMPTZ" else c.type, c.doc)
            for c in table.columns
        ]
        assert actual[name] == expected
    comments = dict(con.execute("SELECT table_name, comment FROM duckdb_tables()").fetchall())
    assert comments["turns"] == TABLES["turns"].doc
    views = dict(
        con.execute("SELECT view_name, comment FROM duckdb_views() WHERE NOT internal").fetchall()
    )
    assert views == {view.name: view.doc for view in VIEWS}


def test_polars_schema_types_empty_tables():
    for name, table in TABLES.items():
        frame = pl.DataFrame([], schema=polars_schema(name), orient="row")
        assert frame.columns == list(table.column_names)
    assert polars_schema("events")["ts"] == pl.Datetime("us", "UTC")
    assert polars_schema("turns")["interrupted"] == pl.Boolean


def test_generated_docs_are_up_to_date():
    for name, make in docsgen.GENERATED.items():
        committed = (REPO / name).read_text(encoding="utf-8")
        made = make(REPO) if name.startswith("sample_logs") else make()
        assert committed == made, f"{name} is stale: run python -m rtlens.docsgen"


def test_a_session_loads_as_typed_polars_frames():
    from rtlens.ingest.frames import load_session

    frames = load_session(REPO / "sample_logs" / "ga_function_calling.jsonl")
    assert set(frames) == set(TABLES)
    for name, frame in frames.items():
        assert frame.schema == pl.Schema(polars_schema(name)), name
    assert frames["function_calls"].height == 3
    assert frames["interruptions"].height == 0  # empty, yet typed
    assert frames["events"]["ts"].dtype == pl.Datetime("us", "UTC")
    assert frames["events"]["ts"].null_count() == 0


def test_fixed_compressions_name_real_columns_and_are_used(tmp_path):
    from rtlens.ingest.pipeline import ingest

    db = tmp_path / "rt.duckdb"
    ingest([REPO / "sample_logs" / "ga_function_calling.jsonl"], db)
    con = connect(db, read_only=True)
    for (table, column), method in COMPRESSION.items():
        assert column in TABLES[table].column_names
        used = con.execute(
            "SELECT DISTINCT compression FROM pragma_storage_info(?) "
            "WHERE column_name = ? AND segment_type <> 'VALIDITY'",
            [table, column],
        ).fetchall()
        assert used == [(method.upper(),)], (table, column, used)
    con.close()
