"""Telling people: messages rendered from templates and sent through channels.

    errors       the package's own errors: ConfigError (exit 2), SendError, RenderError's base
    message      what a channel is handed: Recipient, Rendered, Outgoing
    contexts     the context of each kind of message, as frozen dataclasses (to_dict for
                 the templates and for a queue's JSON snapshot)
    context_text a context as the JSON text a queue stores, from parts shared by many
                 messages (the same text as json.dumps of to_dict)
    labels       names of stages, levels and categories per locale (plain data)
    render       Jinja2 templates per locale, sandboxed; `|inert` user text; samples, check
    config       the TOML configuration (pydantic); errors name FILE:LINE and the key
    toml_lines   where each key of a TOML text is written (the line numbers tomllib lacks)
    channels/    the registry of channel types and one module per type (stdlib only)
    delivery     one queued message: channel, render, pace, send, outcome; Pacer, backoff
    dispatch     the database pass over the outbox (the one module that uses the engine)

Nothing here imports the engine but `dispatch`; the application translates these errors at its
own boundary.
"""
