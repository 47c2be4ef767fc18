"""Reports: the terminal view (rich) and summary.json."""

from agentload.report.json_summary import write_summary_json
from agentload.report.terminal import live_line, render_live, render_summary

__all__ = ["live_line", "render_live", "render_summary", "write_summary_json"]
