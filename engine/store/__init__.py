"""Storage: SQLAlchemy Core tables, migrations (Alembic), the unit of work."""
