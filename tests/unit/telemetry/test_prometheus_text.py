"""Parsing the Prometheus exposition and turning scrapes into series."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from agentload.telemetry.prometheus import ALIASES, Selector, SeriesExtractor
from agentload.telemetry.prometheus_text import histogram_quantile, parse_exposition

VLLM = """\
# HELP vllm:num_requests_waiting Number of requests waiting.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{model_name="m"} 7.0
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="m"} 3.0
# TYPE vllm:gpu_cache_usage_perc gauge
vllm:gpu_cache_usage_perc{model_name="m"} 0.42
# TYPE vllm:generation_tokens_total counter
vllm:generation_tokens_total{model_name="m"} COUNT
# TYPE lat_seconds histogram
lat_seconds_bucket{le="0.1",route="a"} A1
lat_seconds_bucket{le="1.0",route="a"} A2
lat_seconds_bucket{le="+Inf",route="a"} A2
lat_seconds_count{route="a"} A2
lat_seconds_sum{route="a"} SUM
this line is not an exposition line
"""


def scrape(count: float, a1: float, a2: float, total: float) -> str:
    return (
        VLLM.replace("COUNT", str(count))
        .replace("A1", str(a1))
        .replace("A2", str(a2))
        .replace("SUM", str(total))
    )


def test_parse_labels_types_and_skips_bad_lines() -> None:
    exp = parse_exposition('m{a="x\\"y",b="2"} 1.5 1700000000\nbad line here\nn +Inf\n')
    assert [(s.name, s.labels, s.value) for s in exp.samples] == [
        ("m", (("a", 'x"y'), ("b", "2")), 1.5),
        ("n", (), math.inf),
    ]
    assert parse_exposition(VLLM.replace("COUNT", "1")).types["lat_seconds"] == "histogram"


def test_vllm_aliases_counters_and_histograms() -> None:
    extractor = SeriesExtractor(
        (Selector.parse("vllm:generation_tokens"), Selector.parse("lat_seconds"))  # type: ignore[arg-type]
    )
    first = extractor.extract(parse_exposition(scrape(100, 1, 2, 0.5)), at_s=10.0)
    assert first["server.queue_length"] == 7 and first["vllm:num_requests_waiting"] == 7
    assert first["server.running"] == 3
    assert first["server.kv_cache_usage_ratio"] == 0.42
    assert "vllm:generation_tokens.per_s" not in first  # a rate needs two scrapes
    assert "lat_seconds.p50" not in first
    # 2 s later: 50 more tokens; 10 more observations, 8 of them in (0.1, 1].
    second = extractor.extract(parse_exposition(scrape(150, 3, 12, 5.5)), at_s=12.0)
    assert second["vllm:generation_tokens.per_s"] == 25.0
    assert second["lat_seconds.count_per_s"] == 5.0
    assert second["lat_seconds.mean"] == 0.5
    # rank 5 of 10: 2 in the first bucket, then 3 of 8 into (0.1, 1]
    assert math.isclose(second["lat_seconds.p50"], 0.1 + 0.9 * 3 / 8)
    # A counter reset (the server restarted) gives no rate rather than a negative one.
    third = extractor.extract(parse_exposition(scrape(5, 3, 12, 5.5)), at_s=13.0)
    assert "vllm:generation_tokens.per_s" not in third


def test_selector_with_labels() -> None:
    text = 'phase_seconds_bucket{phase="decode",le="1"} 4\nphase_seconds_bucket{phase="decode",le="+Inf"} 4\nq{phase="decode"} 2\nq{phase="prefill"} 5\n'  # noqa: E501
    selector = Selector.parse('q{phase="prefill"}')
    assert selector is not None and selector.name == "q"
    values = SeriesExtractor((selector,)).extract(parse_exposition(text), at_s=0.0)
    assert values['q{phase="prefill"}'] == 5
    assert Selector.parse("q{phase=prefill}") is None


def test_every_alias_source_is_recognised_without_being_asked() -> None:
    for alias, names in ALIASES.items():
        for raw in names:
            values = SeriesExtractor(()).extract(parse_exposition(f"{raw} 3\n"), at_s=0.0)
            assert values[alias] == 3 and values[raw] == 3, raw


bounds = st.lists(
    st.floats(min_value=0.001, max_value=1e4, allow_nan=False), min_size=1, max_size=8, unique=True
)


@settings(max_examples=200, deadline=None)
@given(bounds, st.lists(st.integers(0, 50), min_size=9, max_size=9), st.floats(0, 1))
def test_quantile_lies_in_the_bucket_of_its_rank(
    edges: list[float], counts: list[int], q: float
) -> None:
    edges = sorted(edges)
    cumulative, running = [], 0
    for edge, count in zip([*edges, math.inf], counts, strict=False):
        running += count
        cumulative.append((edge, float(running)))
    result = histogram_quantile(q, cumulative)
    if running == 0:
        assert result is None
        return
    assert result is not None and 0 <= result <= edges[-1]
    # Monotone in q.
    lower = histogram_quantile(q / 2, cumulative)
    assert lower is not None and lower <= result + 1e-9
