"""Client overhead: CPU time per request and maximum request rate of ``agentload run``.

What it measures, side by side in one invocation, against a trivial local HTTP server
(``bench/trivial_server.py``, its own process, far cheaper per request than any client):

- ``agentload``: the real CLI, ``agentload run SCENARIO --quiet --json --out DIR``, as a user
  runs it (records written to disk, live aggregation, summary at the end).
- ``aiohttp``: a plain aiohttp + uvloop loop (``aiohttp_worker.py``): the floor agentload's
  HTTP client is built on; the ratio agentload ÷ aiohttp is its overhead.
- ``wrk``: the C load generator (``wrk_client.py``, one thread), the practical floor of client
  CPU per request; closed mode only.
- ``locust``: Locust's FastHttpUser (``locust_client.py``, one process), closed mode only;
  Locust has no open arrival model.

wrk and Locust are installed apart from agentload by ``bench/peers.py`` (``make bench`` runs
it); where one is not installed the table says it was skipped and why.

Two modes:

- ``closed``: N users (default 64) send back to back for D seconds (default 5): the client is
  CPU-bound, so ``achieved req/s`` is its maximum request rate on one core.
- ``rate``: an open loop at a fixed rate (default 2000/s, in-flight cap 256), below what
  either client can do, so ``CPU µs/request`` is the cost of one request at that rate
  (including whatever the client spends waiting for the next send time).

How CPU time is measured: each client is a subprocess; its user+sys CPU time comes from the
kernel's rusage for that process (``os.wait4``). That includes interpreter start-up, imports,
and writing the results, so each client's *fixed cost* is measured separately with a run of
one request (``agentload run`` of a 1-user, 1-request scenario; the worker with
``--max-requests 1``) and subtracted:

    CPU µs/request = (CPU of the run - median fixed cost) / ok requests

The import-only start-up (``agentload validate``; ``python -c "import aiohttp, uvloop"``) is
printed too, for reference; it is not what is subtracted.

Pinning: where ``os.sched_setaffinity`` exists and two cores are available, the server runs
on the first core and the benchmark and every client on the second, so they do not compete.

Extras: the in-process CPU cost of each step agentload runs to record one request (its record
sinks, using its own classes; ``--no-sinks`` skips it), and with ``--profile DIR`` one run per
mode under cProfile with a CPU-clock timer, printed as the top costs per request.

Modules: ``proc`` (subprocesses, rusage, pinning, the server), ``clients`` (agentload and the
aiohttp baseline as clients), ``aiohttp_worker`` (the baseline itself), ``locust_client``,
``measure`` (the interleaved runs), ``report`` (tables and JSON), ``tables`` (formatting),
``sinks``, ``profiling`` and ``cli``. Every loop is bounded in count and time; all traffic
goes to 127.0.0.1.
"""
