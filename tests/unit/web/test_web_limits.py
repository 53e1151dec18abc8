"""The widget's limits: per visitor, per address, new visitors per address; refusals
say in Russian when to try again, and idle windows are forgotten."""

from __future__ import annotations

from bots.web.limits import RateLimiter, WidgetLimits, in_words


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_visitor_may_send_twenty_a_minute():
    clock = Clock()
    limits = WidgetLimits(visitor=20, address=60, tokens=10, clock=clock)
    for _ in range(20):
        assert limits.message("anna", "10.0.0.1") is None
        clock.now += 1
    refused = limits.message("anna", "10.0.0.1")
    assert refused is not None
    assert refused.message == (
        "Слишком много сообщений подряд. Подождите немного — через 40 секунд можно писать снова."
    )
    assert refused.retry_after == 40.0
    assert limits.message("boris", "10.0.0.1") is None  # another visitor on the address
    clock.now += 40
    assert limits.message("anna", "10.0.0.1") is None  # the first left the window


def test_an_address_may_send_sixty_a_minute_over_all_its_visitors():
    clock = Clock()
    limits = WidgetLimits(visitor=20, address=60, tokens=10, clock=clock)
    for n in range(60):
        assert limits.message(f"visitor-{n % 3}", "10.0.0.2") is None
    refused = limits.message("visitor-new", "10.0.0.2")
    assert refused is not None and refused.message.startswith("С вашего адреса приходит")
    assert limits.message("visitor-new", "10.0.0.3") is None
    # A refused message counts for nobody.
    assert limits.visitor.wait("visitor-new") == 0


def test_new_visitors_ten_a_minute_per_address():
    clock = Clock()
    limits = WidgetLimits(visitor=20, address=60, tokens=10, clock=clock)
    assert all(limits.new_token("10.0.0.4") is None for _ in range(10))
    refused = limits.new_token("10.0.0.4")
    assert refused is not None
    assert refused.message == (
        "С вашего адреса слишком часто начинают новые разговоры. Попробуйте снова через 1 минуту."
    )
    assert limits.new_token("10.0.0.5") is None


def test_idle_windows_are_forgotten():
    clock = Clock()
    limiter = RateLimiter(5, 60.0, clock)
    for n in range(5000):
        limiter.add(f"visitor-{n}")
    clock.now += 61
    for n in range(2000):
        limiter.add(f"late-{n}")
    assert len(limiter) < 3000


def test_waits_in_words():
    assert [in_words(s) for s in (0.2, 1, 2, 5, 21, 22, 59.4, 60, 119, 150)] == [
        "1 секунду", "1 секунду", "2 секунды", "5 секунд", "21 секунду", "22 секунды",
        "59 секунд", "1 минуту", "2 минуты", "2 минуты",
    ]  # fmt: skip
