"""The HTTP API (docs/api.md): an entry point beside the command line, on the same stores
and the same Kafka topics."""
