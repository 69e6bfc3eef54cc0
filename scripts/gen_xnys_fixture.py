#!/usr/bin/env python3
"""Writes the XNYS session fixture that lakewatch's calendar is tested against.

Source of truth: the `exchange_calendars` package (XNYS). One line per session,
2000-01-01 through 2030-12-31: `date,open_utc,close_utc` (HH:MM, UTC).

    pip install exchange_calendars==4.13.2
    python3 scripts/gen_xnys_fixture.py > crates/lakewatch-core/tests/fixtures/xnys_sessions.csv
"""
import sys

import exchange_calendars as xcals

cal = xcals.get_calendar("XNYS", start="2000-01-01", end="2030-12-31")
sessions = cal.sessions
out = sys.stdout
out.write(f"# exchange_calendars {xcals.__version__} XNYS sessions 2000-01-01..2030-12-31: date,open_utc,close_utc\n")
for s in sessions:
    o = cal.session_open(s).tz_convert("UTC")
    c = cal.session_close(s).tz_convert("UTC")
    out.write(f"{s.date().isoformat()},{o.strftime('%H:%M')},{c.strftime('%H:%M')}\n")
