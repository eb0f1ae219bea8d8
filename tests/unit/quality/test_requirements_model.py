"""promptkiln.making.requirements_model: the model's list of exact words, kept only where the prompt
really says them."""

from __future__ import annotations

import pytest

from promptkiln.checks.requirements import Requirement
from promptkiln.making.requirements_model import MAX_WORDS, from_answer

PROMPT = "A letter as PDF confirming the meeting with the Lisbon office on 12 March 2025"


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ('["Lisbon office", "12 March 2025"]', ["Lisbon office", "12 March 2025"]),
        ('Sure:\n```json\n["Lisbon office"]\n```', ["Lisbon office"]),  # fenced, with chatter
        ('["Porto office", "Lisbon"]', ["Lisbon"]),  # invented: not in the prompt
        ('["letter", "meeting", "PDF"]', []),  # generic words and format names
        ('["lisbon OFFICE"]', ["lisbon OFFICE"]),  # the prompt's words, in another case
        ("no list here", []),
        ('["Lisbon office", ', []),  # cut off
        ('{"words": ["Lisbon"]}', ["Lisbon"]),
        ("[1, null, {}]", []),
    ],
)
def test_only_the_prompts_own_words_are_kept(answer: str, words: list[str]) -> None:
    reqs = from_answer(answer, PROMPT, [])
    assert [r.params["text"] for r in reqs] == words
    assert all(r.kind == "text" for r in reqs)


def test_words_already_required_are_not_asked_twice() -> None:
    have = [Requirement("text", 'the text "Lisbon office" appears', {"text": "Lisbon office"})]
    reqs = from_answer('["Lisbon office", "12 March 2025", "12 March 2025"]', PROMPT, have)
    assert [r.params["text"] for r in reqs] == ["12 March 2025"]


def test_at_most_a_few_words_are_taken() -> None:
    prompt = " ".join(f"Name{i}" for i in range(20))
    answer = "[" + ", ".join(f'"Name{i}"' for i in range(20)) + "]"
    assert len(from_answer(answer, prompt, [])) == MAX_WORDS
