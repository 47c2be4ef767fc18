"""Weighted action mixes and Markov flows, end to end against a loopback server."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from scipy import stats

from agentload import api
from agentload.config import parse_scenario
from agentload.errors import ConfigError
from agentload.records.rundir import RunDir


def ok_app() -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


def base(url: str, load: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "mix",
        "seed": 9,
        "target": {"base_url": url, "protocol": "http"},
        "load": load,
        "request": {"path": "/login"},
        "actions": {
            "search": {"path": "/search"},
            "order": {"method": "POST", "path": "/order", "body": {"n": "{{seq}}"}},
            "pay": {"method": "POST", "path": "/pay"},
        },
    }


def test_a_weighted_mix_gives_the_configured_shares(app_server, tmp_path: Path) -> None:
    url = app_server(ok_app())
    data = base(url, {"arrival": "constant", "rate": "2000/s", "requests": 2000})
    data["mix"] = {"search": 65, "order": 20, "pay": 10, "request": 5}
    result = api.run(parse_scenario(yaml.safe_dump(data), source="m.yaml"), out_dir=tmp_path / "r")
    counts = Counter(r.action for r in RunDir.open(result.run_dir).iter_records())
    expected = {"search": 0.65, "order": 0.20, "pay": 0.10, "request": 0.05}
    assert set(counts) == set(expected)
    observed = [counts[name] for name in expected]
    _, p = stats.chisquare(observed, [2000 * share for share in expected.values()])
    assert p > 0.001, counts


def test_a_markov_flow_chains_the_turns_of_each_session(app_server, tmp_path: Path) -> None:
    url = app_server(ok_app())
    data = base(
        url,
        {
            "model": "sessions",
            "arrival": "constant",
            "rate": "400/s",
            "sessions": 400,
            "turns": {"median": 50, "sigma": 0, "min": 50, "max": 50},
            "think_time": 0,
        },
    )
    data["mix"] = {"search": 1}
    data["flow"] = {"search": {"search": 0.3, "order": 0.5}, "order": {"pay": 0.8}}
    result = api.run(parse_scenario(yaml.safe_dump(data), source="f.yaml"), out_dir=tmp_path / "r")
    sessions: dict[str | None, list] = defaultdict(list)
    for record in RunDir.open(result.run_dir).iter_records():
        sessions[record.session_id].append(record)
    transitions: Counter[tuple[str, str]] = Counter()
    ends: Counter[str] = Counter()
    for turns in sessions.values():
        turns.sort(key=lambda r: r.turn)
        assert turns[0].action == "search"
        for before, after in itertools.pairwise(turns):
            transitions[(before.action, after.action)] += 1
        ends[turns[-1].action] += 1
    assert ends["pay"] > 0 and all(a != "pay" for a, _ in transitions)  # pay always ends
    from_search = [transitions[("search", "search")], transitions[("search", "order")]]
    from_search.append(ends["search"])
    _, p = stats.chisquare(from_search, [sum(from_search) * q for q in (0.3, 0.5, 0.2)])
    assert p > 0.001, (transitions, ends)
    order_total = transitions[("order", "pay")] + ends["order"]
    assert transitions[("order", "pay")] / order_total == pytest.approx(0.8, abs=0.08)


def test_unknown_actions_and_flows_without_sessions_are_config_errors(tmp_path: Path) -> None:
    data = base("http://127.0.0.1:1", {"rate": "1/s", "requests": 1})
    data["mix"] = {"serch": 1}
    with pytest.raises(ConfigError, match="mix names serch: not an action"):
        parse_scenario(yaml.safe_dump(data), source="x.yaml")
    data["mix"] = {"search": 1}
    data["flow"] = {"search": {"order": 1}}
    with pytest.raises(ConfigError, match=r"flow needs load\.model: sessions"):
        parse_scenario(yaml.safe_dump(data), source="x.yaml")
