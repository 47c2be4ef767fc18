"""Thresholds (SLOs): the expression grammar, evaluation against a run, and abort rules.

Modules: ``grammar`` (the EBNF and the parser), ``threshold`` (the parsed form),
``aggregate`` (the fixed-memory record sink), ``evaluate`` (verdicts), ``run_level`` (what
is judged once the run has ended: generator telemetry, the trust flag), ``gate`` (abort
rules), ``tracking`` (thresholds, trust and goodput for one run).
"""
