from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from engine.deadlines import GREEN, RED, YELLOW, colour, yellow_from

BEIJING = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=BEIJING)  # a Wednesday


def test_overdue_is_red_and_no_deadline_has_no_colour():
    assert colour(NOW - timedelta(minutes=1), NOW) == RED
    assert colour(None, NOW) is None


def test_yellow_counts_working_days_so_a_weekend_does_not_eat_the_warning():
    # Two working days after Wednesday is Friday; the weekend does not count.
    assert yellow_from(NOW).astimezone(BEIJING).date().isoformat() == "2026-11-27"
    friday_evening = datetime(2026, 11, 27, 23, 59, 59, tzinfo=BEIJING)
    monday = datetime(2026, 11, 30, 12, 0, tzinfo=BEIJING)
    assert colour(friday_evening, NOW) == YELLOW
    assert colour(monday, NOW) == GREEN
    assert colour(monday, NOW, working_days=3) == YELLOW
