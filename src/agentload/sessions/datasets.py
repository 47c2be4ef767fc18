"""Conversation datasets: ShareGPT-style JSONL, read once when the run is planned.

A line is ``{"conversations": [{"from": "human", "value": "..."}, {"from": "gpt", ...}]}``
(``"role"``/``"content"`` and ``"user"``/``"assistant"`` are read too). A session replays one
conversation's user turns in order (its turn i sends user turn i, wrapping around), so the
prompts have real lengths and real follow-ups; the answers come from the target.

``write_sample`` writes a small synthetic dataset in that format (nothing is downloaded).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_USER = frozenset({"human", "user"})
_ASSISTANT = frozenset({"gpt", "assistant", "model", "chatgpt", "bard"})


class DatasetError(ValueError):
    """A dataset file that cannot be used; the message names file:line and the fix."""


@dataclass(frozen=True, slots=True)
class Conversation:
    user_turns: tuple[str, ...]
    answer_chars: tuple[int, ...] = ()  # lengths of the recorded answers (for statistics)


def load_conversations(path: Path | str, *, max_conversations: int = 100_000) -> list[Conversation]:
    """Every conversation with at least one user turn, in file order."""
    path = Path(path)
    found: list[Conversation] = []
    try:
        # Line by line: a real ShareGPT file is hundreds of MB, and a check needs one row.
        with path.open(encoding="utf-8") as file:
            for number, line in enumerate(file, start=1):
                if not line.strip():
                    continue
                conversation = _parse(line, f"{path}:{number}")
                if conversation is not None:
                    found.append(conversation)
                    if len(found) >= max_conversations:
                        break
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the dataset: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not UTF-8 text; a dataset is JSONL") from None
    if not found:
        raise DatasetError(f"{path}: no conversation with a human turn; see docs/sessions.md")
    return found


def _parse(line: str, where: str) -> Conversation | None:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{where}: not JSON ({exc.msg}); one conversation per line") from None
    turns = row.get("conversations", row.get("messages")) if isinstance(row, dict) else None
    if not isinstance(turns, list):
        shape = '{"conversations": [{"from": "human", "value": "..."}, ...]}'
        raise DatasetError(f"{where}: expected {shape}")
    users: list[str] = []
    answers: list[int] = []
    for turn in turns:
        if not isinstance(turn, dict):
            raise DatasetError(f"{where}: each turn is an object with from and value")
        speaker = str(turn.get("from", turn.get("role", ""))).lower()
        text = turn.get("value", turn.get("content"))
        if not isinstance(text, str) or not text.strip():
            continue
        if speaker in _USER:
            users.append(text)
        elif speaker in _ASSISTANT:
            answers.append(len(text))
    return Conversation(tuple(users), tuple(answers)) if users else None


def pick(conversations: Sequence[Conversation], seed: int, key: int) -> Conversation:
    """The conversation of a session (or request) ``key``: seeded, uniform over the file."""
    index = int(np.random.default_rng([seed, key, 17]).integers(len(conversations)))
    return conversations[index]


_TOPICS = (
    ("my order", "Where is my order {n}?", "It shipped yesterday; what else can I check?"),
    ("a trip", "Plan a {n}-day trip to Lisbon.", "Make day two more relaxed."),
    ("some code", "Why does my loop run {n} times too often?", "Show me the fixed version."),
    ("a recipe", "Give me a recipe for {n} people.", "Can I make it without eggs?"),
    ("a summary", "Summarise this report in {n} bullet points.", "Now in one sentence."),
)
_FILLER = (
    "Please keep the answer short and concrete, and say which assumptions you made. "
    "I am comparing options, so list the trade-offs as well. "
)


def write_sample(path: Path | str, *, conversations: int = 50, seed: int = 0) -> Path:
    """A small ShareGPT-style dataset of multi-turn conversations (synthetic, seeded)."""
    rng = np.random.default_rng(seed)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as file:
        for i in range(conversations):
            _, first, follow = _TOPICS[i % len(_TOPICS)]
            turns = []
            for t in range(int(rng.integers(2, 6))):
                ask = first.format(n=int(rng.integers(2, 12))) if t == 0 else follow
                ask += " " + _FILLER * int(rng.integers(0, 4))
                turns.append({"from": "human", "value": ask.strip()})
                answer = "Here is what I suggest. " * int(rng.integers(2, 20))
                turns.append({"from": "gpt", "value": answer.strip()})
            file.write(json.dumps({"id": f"sample-{i}", "conversations": turns}) + "\n")
    return out
