"""The pure domain: no I/O, no clock, no SQLAlchemy. Only the standard library."""
