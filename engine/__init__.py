"""rectify: the rectification engine (domain, service, storage)."""
