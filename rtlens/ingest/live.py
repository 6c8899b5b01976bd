"""The ingest normalizer run on a session that is still going (`rtlens record --metrics`,
`--otlp`): the recording's new lines are fed to the same reader, state machine and
handlers as `rtlens ingest`'s, a batch at a time, and `finalize` gives the rows so far.

A turn is *settled* once a later turn has begun (the user spoke or typed again), none of
its responses is still in progress and its transcription, if one was started, has ended;
every turn is settled once the session is closed. By then the events that still change a
turn's row in practice (its reply's `response.done`, the barge-in that cut it, a late
transcript) have arrived, so what is published for a settled turn is what ingest of the
finished file gives (`rtlens.live.progress` counts the exceptions; docs/metrics-live.md).
"""

from __future__ import annotations

from pathlib import Path

from rtlens.ingest.normalize import APPEND_LINES, open_state, run_records, session_tables
from rtlens.ingest.results import SessionTables
from rtlens.ingest.state import SessionState
from rtlens.logfile.reader import MAX_LINE_BYTES, read_line_batch


class LiveSession:
    """One growing recording, normalized as its lines come."""

    def __init__(self, path: str | Path, max_line: int = MAX_LINE_BYTES) -> None:
        # the path as ingest writes it in sessions.source_file (and derives ids from)
        self.source_file = str(Path(path).resolve())
        self.max_line = max_line
        self.lines = 0  # lines fed so far
        self.state: SessionState | None = None
        self.closed = False

    def feed(self, data: bytes) -> None:
        """Normalize `data`: whole lines that follow those fed before."""
        if not data:
            return
        records = read_line_batch(
            data,
            self.lines + 1,
            header=self.lines == 0,
            appends=True,
            runs=APPEND_LINES is not None,
            max_line=self.max_line,
        )
        self.lines += data.count(b"\n")
        it = iter(records)
        if self.state is None:
            first = next(it, None)
            if first is None:
                return
            self.state, first = open_state(first, self.source_file)
            if first is not None:
                run_records(self.state, iter((first,)), None, 0, 0)
        # (event lines are only made for the `events` table, which live use has no need of)
        run_records(self.state, it, None, 1 << 62, 0)

    def tables(self) -> SessionTables | None:
        """The rows so far (None before the first line)."""
        return None if self.state is None else session_tables(self.state)

    def settled_turns(self) -> int:
        """How many of the session's turns, from the first, are settled (the module's rule);
        all of them once `closed` is set."""
        st = self.state
        if st is None:
            return 0
        turns = st.turns
        if self.closed:
            return len(turns)
        transcribing = {
            id(tr.turn)
            for tr in st.transcriptions.values()
            if tr.turn is not None and tr.status == "in_progress"
        }
        n = 0
        for turn in turns[:-1]:  # the last turn has no later one yet
            if id(turn) in transcribing or any(r.status == "in_progress" for r in turn.responses):
                break
            n += 1
        return n
