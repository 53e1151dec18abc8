"""How bench.nlu counts the messages that would get the reply of a wrong intent."""

from bench.nlu import routing_table


def parsed(intent: str, top: str, confidence: float) -> dict:
    return {"text": "x", "intent": intent, "ranking": [{"name": top, "confidence": confidence}]}


def test_a_wrong_intent_is_acted_on_only_above_the_threshold():
    split = [parsed("cancel", "abuse", 0.45)]
    rows = routing_table(split, []).splitlines()
    at = {row.split(" | ")[0].strip("| "): row for row in rows[2:]}
    assert "| 1 of 1 |" in at["0.40"]
    assert "| 0 of 1 |" in at["0.50"]


def test_faq_questions_may_also_be_reports_emergencies_or_operator_calls():
    dev = [
        parsed("ask_question", "emergency", 0.9),
        parsed("ask_question", "file_appeal", 0.9),
        parsed("ask_question", "abuse", 0.9),
        parsed("out_of_scope", "chitchat", 0.9),
        parsed("out_of_scope", "greet", 0.9),
        parsed("ask_question", "inform", 0.9),
    ]
    first = routing_table([], dev).splitlines()[2]
    assert "| 2 of 6 |" in first


def test_a_right_intent_below_the_threshold_is_counted_as_sent_to_the_faq():
    split = [parsed("greet", "greet", 0.3), parsed("inform", "inform", 0.1)]
    rows = routing_table(split, []).splitlines()[2:]
    sent = {row.split(" | ")[0].strip("| "): row.rsplit("|", 2)[-2].strip() for row in rows}
    assert sent["0.00"] == "0"
    assert sent["0.40"] == "1"
