"""Thresholds (SLOs): the expression grammar, evaluation against a run, and abort rules.

Modules: ``grammar`` (the EBNF and the parser), ``threshold`` (the parsed form),
``aggregate`` (the fixed-memory record sink), ``evaluate`` (verdicts), ``gate`` (abort
rules), ``tracking`` (thresholds and goodput for one run).
"""
