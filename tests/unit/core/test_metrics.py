from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from core.metrics import Backlog, Metrics


def samples(text: bytes | str) -> dict[tuple[str, frozenset], float]:
    if isinstance(text, bytes):
        text = text.decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: dict, name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


def test_counters_and_histograms_render_with_their_labels():
    metrics = Metrics()
    metrics.messages_in.labels(channel="telegram").inc()
    metrics.messages_in.labels(channel="telegram").inc()
    metrics.messages_out.labels(channel="vk", status="failed").inc()
    metrics.turn_retries.labels(channel="vk").inc()
    metrics.turns_quarantined.labels(channel="telegram").inc()
    metrics.reply_retries.labels(channel="telegram", reason="rate_limited").inc(3)
    metrics.turn_seconds.labels(channel="telegram").observe(0.2)
    metrics.reply_latency_seconds.labels(channel="vk").observe(45.0)

    found = samples(generate_latest(metrics.registry))

    assert value(found, "djinn_messages_in_total", channel="telegram") == 2
    assert value(found, "djinn_messages_out_total", channel="vk", status="failed") == 1
    assert value(found, "djinn_turn_retries_total", channel="vk") == 1
    assert value(found, "djinn_turns_quarantined_total", channel="telegram") == 1
    assert (
        value(found, "djinn_reply_retries_total", channel="telegram", reason="rate_limited") == 3
    )
    assert value(found, "djinn_turn_seconds_count", channel="telegram") == 1
    assert value(found, "djinn_turn_seconds_bucket", channel="telegram", le="0.1") == 0
    assert value(found, "djinn_turn_seconds_bucket", channel="telegram", le="0.25") == 1
    assert value(found, "djinn_turn_seconds_bucket", channel="telegram", le="30.0") == 1
    assert value(found, "djinn_reply_latency_seconds_bucket", channel="vk", le="60.0") == 1
    assert value(found, "djinn_reply_latency_seconds_bucket", channel="vk", le="30.0") == 0


def test_known_series_exist_at_zero_before_the_first_event():
    found = samples(generate_latest(Metrics().registry))
    for channel in ("telegram", "vk"):
        assert value(found, "djinn_messages_in_total", channel=channel) == 0
        for status in ("sent", "blocked", "failed"):
            assert value(found, "djinn_messages_out_total", channel=channel, status=status) == 0
        for reason in ("rate_limited", "unavailable"):
            assert value(found, "djinn_reply_retries_total", channel=channel, reason=reason) == 0
        assert value(found, "djinn_turn_seconds_count", channel=channel) == 0


def test_two_metrics_do_not_clash_nor_touch_the_global_registry():
    first, second = Metrics(), Metrics()
    first.messages_in.labels(channel="vk").inc()
    assert value(samples(generate_latest(first.registry)), "djinn_messages_in_total", channel="vk")
    assert not value(
        samples(generate_latest(second.registry)), "djinn_messages_in_total", channel="vk"
    )
    assert b"djinn_" not in generate_latest(REGISTRY)


def test_backlog_gauges_cover_every_channel():
    backlog = Backlog(
        replies_pending={"vk": 3},
        replies_given_up={"telegram": 1},
        inbox_backlog={"telegram": 2},
        inbox_oldest_pending_seconds={"telegram": 12.5},
    )
    found = samples(Metrics().render(backlog, rasa_up=False))
    assert value(found, "djinn_database_up") == 1
    assert value(found, "djinn_rasa_up") == 0
    assert value(found, "djinn_replies_pending", channel="vk") == 3
    assert value(found, "djinn_replies_pending", channel="telegram") == 0
    assert value(found, "djinn_replies_given_up", channel="telegram") == 1
    assert value(found, "djinn_replies_blocked", channel="vk") == 0
    assert value(found, "djinn_inbox_backlog", channel="telegram") == 2
    assert value(found, "djinn_inbox_quarantined", channel="vk") == 0
    assert value(found, "djinn_inbox_oldest_pending_seconds", channel="telegram") == 12.5
    assert value(found, "djinn_inbox_oldest_pending_seconds", channel="vk") == 0


def test_without_the_database_the_counters_render_and_its_gauges_do_not():
    metrics = Metrics()
    metrics.messages_in.labels(channel="vk").inc()
    found = samples(metrics.render(None))
    assert value(found, "djinn_database_up") == 0
    assert value(found, "djinn_messages_in_total", channel="vk") == 1
    names = {name for name, _ in found}
    assert "djinn_rasa_up" not in names
    assert not {n for n in names if n.startswith(("djinn_replies_", "djinn_inbox_"))}
