"""Write the small ShareGPT-style sample dataset used by examples/dataset-chat.yaml.

    python examples/data/make_sharegpt_sample.py [OUT.jsonl] [--conversations N] [--seed S]

The conversations are synthetic (nothing is downloaded); real ShareGPT files have the same
shape and can be used in their place.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from agentload.sessions.datasets import write_sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parent
    parser.add_argument("out", nargs="?", default=str(here / "sharegpt-sample.jsonl"))
    parser.add_argument("--conversations", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    path = write_sample(args.out, conversations=args.conversations, seed=args.seed)
    print(f"wrote {args.conversations} conversations to {path}")


if __name__ == "__main__":
    main()
