"""The application layer: one module of handler functions per area, shared by every door.

Each handler takes a `Session` (engine.app.session) and does one command in one transaction:
load what the decision needs, ask the pure domain, write the row, the event and the messages
together. The CLI (cli.py), the scheduler and the demo call these handlers and nothing
below them.

    setup        init: schema, org, workflow, calendar
    issues       add, move, show, list, history, the light, what a person may do
    importing    a ledger (CSV) in, all rows or none
    evidence     files hashed and kept by content
    evidence_files  an issue's files listed and copied out (`issue evidence`)
    supervision  the sweep (escalations), the board, interviews and decisions, listing
    extensions   asking for more time and deciding
    notify       who is told what: outbox messages written with the events
    dispatch     sending the outbox: one pass, list, retry
    briefing     the meeting briefing, printed or queued
    audit        verify, anchor, replay, export, the person report
"""
