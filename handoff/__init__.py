"""Handing conversations to human operators: the queue, assignment, relay, SLA timers,
satisfaction. Until operators arrive (a later release) it records requests for them."""
