"""The records layer: SQLModel tables, Alembic migrations, and the services that store and read
assessments, submissions and their decoded records, aggregates, reviews and accounts."""
