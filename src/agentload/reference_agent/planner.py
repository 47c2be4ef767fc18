"""Deciding what a turn does: pure, cheap rules over the conversation (no model involved).

The engine generates the text and decides its length; the planner only decides whether a
tool is called (and with what arguments) and the answer's leading words:

1. The last message is a tool result → answer, never call a tool again. The answer starts
   with ``Based on <tool>: <first line>``, or ``The <tool> tool failed`` for an error.
2. The last user message asks for a planted fact ("what is my name?", "what's the code?",
   "do you remember my name?"; see ``is_memory_question``) → answer starting with the fact
   ("Your name is Ada.") if known; otherwise with ``I don't know`` (``FORGOT``), and with
   ``I don't know: this session's earlier context was lost.`` when the store lost the
   session — a client checks the prefix to detect lost context.
3. Tools allowed, and the message matches a trigger, in this order: an order number
   ("order 1234", "#1234") → ``lookup_order``; search/find/look up → ``search`` (query: the
   rest of the sentence); arithmetic ("12 * (3 + 4)", "calculate ...") → ``calculator``; the
   name of any other allowed tool → that tool with ``{"query": message}``.
4. Otherwise → answer with no prefix.

Facts are planted by statements in user messages: "my name is Ada", "the code is 1234",
"remember that the door code is 42", "call me Ada". Keys are lower-cased without the
determiner ("name", "door code"); a later statement about the same key replaces it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agentload.protocol.openai_chat import ChatMessage

FORGOT = "I don't know"
CONTEXT_LOST_NOTE = "this session's earlier context was lost."


@dataclass(frozen=True, slots=True)
class PlannedCall:
    name: str
    arguments: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Plan:
    tool_call: PlannedCall | None = None  # None: answer now
    prefix: str = ""  # the answer's leading words


_KEY = r"(?P<key>[a-z][a-z0-9 _-]{0,40}?)"
_VALUE = r"(?P<value>\S.*)"
_QUESTIONS = (
    re.compile(rf"^(?:and |so |then )?what(?:'s|’s| is| was)\s+(?:(?P<det>my|the|our)\s+)?{_KEY}"
               r"\s*[?.!]*$", re.I),
    re.compile(rf"^(?:do you (?:remember|know)|tell me)\s+(?P<det>my|the|our)\s+{_KEY}"
               r"\s*[?.!]*$", re.I),
)  # fmt: skip
_PLANTS = (
    re.compile(rf"\bremember(?:\s+that)?\s+(?:(?:my|the|our)\s+)?{_KEY}\s+(?:is|are)\s+{_VALUE}",
               re.I),
    re.compile(rf"\b(?:my|the|our)\s+{_KEY}\s+(?:is|are)\s+{_VALUE}", re.I),
    re.compile(rf"\bcall me\s+{_VALUE}", re.I),
)  # fmt: skip
_VALUE_END = re.compile(r"\s*[,;]|\s+(?:and|but)\b", re.I)
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")
_ORDER = re.compile(
    r"\border\s*(?:number|no\.?|id)?\s*:?\s*#?\s*(?P<id>\d+)\b|#(?P<hash_id>\d+)\b", re.I
)
_SEARCH = re.compile(r"\b(?:search|find|look\s*up|google)\b\s*(?P<query>.*)", re.I | re.S)
_SEARCH_FILLER = re.compile(r"^(?:(?:for|me|the web|online|about|up)\b\s*)+", re.I)
_EXPRESSION = re.compile(r"[-+(]*\d[\d\s.+\-*/×÷()]*")
_OPERATION = re.compile(r"[\d)]\s*(?:[-+*/×÷]|//)\s*[-+(]*\d")
_CALCULATE = re.compile(r"\b(?:calculate|compute|evaluate)\b\s*(?P<expression>.*)", re.I)
_BUILTIN_TOOLS = ("lookup_order", "search", "calculator")


def plan_turn(
    messages: Sequence[ChatMessage],
    facts: Mapping[str, str],
    *,
    tools: Sequence[str] = (),
    context_lost: bool = False,
) -> Plan:
    """What to do next, given the whole conversation (stored history + this turn's messages),
    every fact known so far (stored ones and ``learn_facts`` of this turn's messages) and
    ``tools``, the names the model may call this turn."""
    last = messages[-1] if messages else None
    if last is None or last.role not in ("user", "tool"):
        return Plan()
    if last.role == "tool":
        return Plan(prefix=tool_result_prefix(last))
    text = last.content or ""
    question = asked_fact(text)
    if question is not None and is_memory_question(*question, facts, context_lost):
        return Plan(prefix=recall_prefix(*question, facts, context_lost))
    return Plan(tool_call=choose_tool(text, tools))


def learn_facts(messages: Iterable[ChatMessage]) -> dict[str, str]:
    """Facts planted by the user messages, later ones winning."""
    facts: dict[str, str] = {}
    for message in messages:
        if message.role != "user" or not message.content:
            continue
        for sentence in _SENTENCES.split(message.content):
            sentence = sentence.strip()
            if not sentence or sentence.endswith("?") or _question(sentence) is not None:
                continue
            for pattern in _PLANTS:
                match = pattern.search(sentence)
                if match is None:
                    continue
                value = _VALUE_END.split(match["value"], maxsplit=1)[0].strip(" .!?\"'")[:80]
                if value:
                    key = match.groupdict().get("key") or "name"  # "call me X" names the user
                    facts[_normal_key(key)] = value
                break
    return facts


def asked_fact(text: str) -> tuple[str, str | None] | None:
    """(key, determiner) of the last fact question in ``text``, if it asks one."""
    found = None
    for sentence in _SENTENCES.split(text):
        found = _question(sentence.strip()) or found
    return found


def is_memory_question(
    key: str, determiner: str | None, facts: Mapping[str, str], lost: bool
) -> bool:
    """Whether a question asks for a planted fact: "my/our X" always does; "the X" does
    when X is known or the context was lost ("what is the capital of France?" in a fresh
    session does not); a bare "what is X?" only when X is a known fact."""
    det = (determiner or "").lower()
    return det in ("my", "our") or key in facts or (det == "the" and lost)


def recall_prefix(key: str, determiner: str | None, facts: Mapping[str, str], lost: bool) -> str:
    subject = {"my": "your", "our": "our", "the": "the"}.get((determiner or "").lower(), "")
    subject = f"{subject} {key}".strip()
    value = facts.get(key)
    if value is not None:
        return f"{subject[0].upper()}{subject[1:]} is {value}."
    if lost:
        return f"{FORGOT}: {CONTEXT_LOST_NOTE}"
    return f"{FORGOT} {subject}."


def tool_result_prefix(message: ChatMessage) -> str:
    name = message.name or "the tool"
    content = (message.content or "").strip()
    if content.startswith("error:"):
        return f"The {name} tool failed, so this answer does not use it."
    first_line = content.splitlines()[0][:120] if content else "nothing"
    return f"Based on {name}: {first_line}"


def choose_tool(text: str, allowed: Sequence[str]) -> PlannedCall | None:
    if not allowed or not text:
        return None
    if "lookup_order" in allowed and (order := _ORDER.search(text)):
        return PlannedCall("lookup_order", {"order_id": order["id"] or order["hash_id"]})
    if "search" in allowed and (search := _SEARCH.search(text)):
        query = _SEARCH_FILLER.sub("", search["query"].strip()).strip(" ?.!") or text.strip()
        return PlannedCall("search", {"query": query})
    if "calculator" in allowed and (expression := arithmetic(text)) is not None:
        return PlannedCall("calculator", {"expression": expression})
    for name in allowed:
        if name in _BUILTIN_TOOLS:
            continue
        spoken = re.escape(name).replace("_", "[ _]")
        if re.search(rf"\b{spoken}\b", text, re.I):
            return PlannedCall(name, {"query": text.strip()})
    return None


def arithmetic(text: str) -> str | None:
    """The first arithmetic expression in ``text`` ("2 + 2", "(3+4)*5"), if any; after
    "calculate"/"compute", whatever follows."""
    for match in _EXPRESSION.finditer(text):
        candidate = match.group().strip()
        if _OPERATION.search(candidate):
            return candidate.rstrip(" .")
    command = _CALCULATE.search(text)
    if command is not None and command["expression"].strip(" ?.!"):
        return command["expression"].strip(" ?.!")
    return None


def _question(sentence: str) -> tuple[str, str | None] | None:
    for pattern in _QUESTIONS:
        match = pattern.match(sentence)
        if match is not None:
            return _normal_key(match["key"]), match["det"]
    return None


def _normal_key(key: str) -> str:
    return " ".join(key.lower().replace("_", " ").split())
