"""`rtlens replay`: serve a recording as a Realtime server (schedule: what is released when)."""
