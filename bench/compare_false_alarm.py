"""False-alarm rate of ``agentload compare`` on runs of one configuration.

Runs ``--pairs`` pairs of short closed-model runs of the same scenario (only the seed
differs) against the bundled reference agent on 127.0.0.1, compares each pair with the
default tolerances, and prints, per metric, how many pairs gave a verdict other than
"no change" (a false alarm: nothing changed but the seed). Also prints the worst relative
difference seen per metric, which is what the default tolerances are calibrated against.

    .venv/bin/python bench/compare_false_alarm.py --pairs 20
    .venv/bin/python bench/compare_false_alarm.py --pairs 20 --replicates 2 --keep /tmp/r2
    .venv/bin/python bench/compare_false_alarm.py --reuse /tmp/r2 --use-runs 1

With ``--replicates K`` each side of a pair is K runs (``agentload compare B1,B2 N1,N2``),
made alternately; ``--use-runs N`` re-judges kept pairs with only the first N runs of each
side, so one set of runs shows single-run and replicate comparisons under the same host
conditions. About 5 s per pair and replicate with the defaults. Every run is bounded in time
(``--duration``) and all traffic stays on loopback.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from agentload import api
from agentload.analysis.compare import compare_sides
from agentload.analysis.compare_samples import load_run_samples
from agentload.config.models import Scenario


def scenario(
    url: str, seed: int, duration_s: float, users: int, rate: float | None = None
) -> Scenario:
    """Closed (``users`` back to back) or, with ``rate``, open at a constant rate."""
    load: dict[str, object] = (
        {"model": "closed", "users": users, "think_time": {"min": 0, "max": 0}}
        if rate is None
        else {"model": "open", "arrival": "constant", "rate": rate}
    )
    return Scenario.model_validate(
        {
            "name": f"same-{seed}",
            "seed": seed,
            "target": {"base_url": url, "protocol": "openai-chat"},
            "load": {**load, "duration": duration_s},
            "request": {"prompt_tokens": 200, "max_tokens": 32, "stream": True},
        }
    )


@contextmanager
def reference_agent(tmp: Path, *args: str) -> Iterator[str]:
    tmp.mkdir(parents=True, exist_ok=True)
    ready = tmp / "agent-ready"
    command = [sys.executable, "-m", "agentload", "agent", "serve", "--port", "0"]
    proc = subprocess.Popen(
        [*command, "--ready-file", str(ready), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not (ready.exists() and ready.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the reference agent did not start")
            time.sleep(0.05)
        yield ready.read_text().strip()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


Side = list[Path]  # one run, or several replicate runs of one configuration


def run_pairs(
    root: Path,
    pairs: int,
    duration_s: float,
    users: int,
    speed: str,
    rate: float | None,
    replicates: int,
    new_speed: str | None = None,
) -> list[tuple[Side, Side]]:
    """``pairs`` pairs of sides under ``root``, all against one agent (or, with
    ``new_speed``, the new side against a second agent of that speed: a real change). The
    runs of a pair alternate between its sides (base, new, base, new, ...), as a user should
    make them, so that a drift of the host hits both sides alike."""
    out = []
    with ExitStack() as stack:
        base_url = stack.enter_context(reference_agent(root / "a0", "--speed", speed))
        urls = (base_url, base_url)
        if new_speed is not None:
            urls = (
                base_url,
                stack.enter_context(reference_agent(root / "a1", "--speed", new_speed)),
            )
        # A fresh agent's first second is slower (a real difference, not noise).
        for number, url in enumerate(dict.fromkeys(urls)):
            api.run(scenario(url, 0, 1.0, users, rate), out_dir=root / f"warm-up-{number}")
        for pair in range(pairs):
            sides: tuple[Side, Side] = ([], [])
            for k in range(replicates):
                for side in (0, 1):
                    seed = 1000 + 2 * replicates * pair + 2 * k + side
                    result = api.run(
                        scenario(urls[side], seed, duration_s, users, rate),
                        out_dir=root / f"p{pair:02d}-{side}{k}",
                    )
                    sides[side].append(result.run_dir)
            out.append(sides)
            print(f"ran pair {pair + 1}", file=sys.stderr, flush=True)
    return out


def stored_pairs(root: Path) -> list[tuple[Side, Side]]:
    prefixes = sorted({p.name.split("-")[0] for p in root.glob("p*-*")})
    return [
        (sorted(root.glob(f"{prefix}-0*")), sorted(root.glob(f"{prefix}-1*")))
        for prefix in prefixes
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per run")
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--speed", default="10", help="reference agent --speed")
    parser.add_argument("--rate", type=float, help="open model at this rate instead of users")
    parser.add_argument(
        "--new-speed",
        help="run the new side against a second agent of this --speed: a real change, so the "
        "verdicts count detections (power), not false alarms",
    )
    parser.add_argument(
        "--replicates", type=int, default=1, help="runs per side (compare B1,B2 N1,N2)"
    )
    parser.add_argument("--keep", type=Path, help="write the runs here (a new folder)")
    parser.add_argument("--reuse", type=Path, help="compare the runs a --keep left here")
    parser.add_argument("--use-runs", type=int, help="with --reuse: the first N runs per side")
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as name:
        if args.reuse is not None:
            pairs = stored_pairs(args.reuse)
            if args.use_runs:
                pairs = [(b[: args.use_runs], n[: args.use_runs]) for b, n in pairs]
        else:
            root = args.keep or Path(name)
            root.mkdir(parents=True, exist_ok=args.keep is None)
            pairs = run_pairs(
                root,
                args.pairs,
                args.duration,
                args.users,
                args.speed,
                args.rate,
                args.replicates,
                args.new_speed,
            )
        report(pairs)
    load = f"{args.users} users" if args.rate is None else f"open {args.rate:g}/s"
    runs = len(pairs[0][0]) if pairs else 0
    print(
        f"{len(pairs)} pairs of {runs} × {args.duration:g}-s runs per side, {load}, agent --speed "
        f"{args.speed}; {time.monotonic() - started:.0f} s in all"
    )


def report(pairs: list[tuple[Side, Side]]) -> None:
    alarms: Counter[str] = Counter()
    tested: Counter[str] = Counter()
    worst: dict[str, float] = defaultdict(float)
    pairs_with_alarm = 0
    for number, (base, new) in enumerate(pairs):
        result = compare_sides(
            [load_run_samples(p) for p in base], [load_run_samples(p) for p in new], seed=number
        )
        flagged = []
        for m in result.metrics:
            if m.verdict == "inconclusive":
                continue
            tested[m.name] += 1
            if m.relative is not None:
                worst[m.name] = max(worst[m.name], abs(m.relative))
            if m.verdict != "no change":
                alarms[m.name] += 1
                flagged.append(f"{m.name} {m.verdict} ({m.relative or 0:+.1%})")
        pairs_with_alarm += bool(flagged)
        print(f"pair {number + 1:2d}: {'; '.join(flagged) or 'no change'}", flush=True)
    print(f"\n{'metric':<16} {'tested':>6} {'alarms':>6} {'rate':>6} {'worst |rel|':>11}")
    for name in tested:
        rate = alarms[name] / tested[name]
        print(f"{name:<16} {tested[name]:>6} {alarms[name]:>6} {rate:>6.0%} {worst[name]:>11.1%}")
    share = pairs_with_alarm / max(len(pairs), 1)
    print(f"pairs with any false alarm: {pairs_with_alarm} of {len(pairs)} ({share:.0%})")


if __name__ == "__main__":
    main()
