"""rectify: the rectification engine (domain, application handlers, storage)."""
