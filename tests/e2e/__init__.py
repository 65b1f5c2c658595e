"""End-to-end tier: the services on the real Kafka-protocol broker, SQLite and PostgreSQL,
as processes and through the command line."""
