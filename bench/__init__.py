"""``make bench``: throughput, latency, rebuild and memory of the dealreg stack (issue #7).

Measurement only. The harness starts its own local broker, runs ``dealreg up`` as a
subprocess against PostgreSQL in fresh schemas it drops afterwards, measures the raw limits
of the pieces (aiokafka consumption, the eventsourcing PostgreSQL recorder, reading the
notification log) in the same run on the same message bodies, and checks correctness:
every registration decided, every payout emitted exactly once.

``python -m bench --help`` lists the options; results go to ``bench/results.json``.
"""
