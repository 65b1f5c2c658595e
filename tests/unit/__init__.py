"""Unit tier: pure rules, commission maths, account keys, policies, aggregates; no broker,
no database (``make test-unit``)."""
