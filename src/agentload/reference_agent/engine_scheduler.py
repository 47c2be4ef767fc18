"""Step planning of the simulated engine: admission, batching window, KV budget, pricing.

Pure: no clock reads, no asyncio. The engine calls ``plan(now_ns)`` at each scheduling point
(the end of a step, or a wake-up while no step runs) and ``finish(step)`` once the step's
time has passed. A step admits waiting requests (first come, first served), runs one prefill
pass over their prompts, then one decode step of the whole running batch; each running
sequence then receives one token. Its cost is ``prefill_ms(admitted tokens) +
decode_step_ms(running, KV tokens)`` from the calibrated profile.

Batching window (``max_wait_ms`` = w). With w = 0, waiting requests join the next step. With
w > 0, they join at a scheduling point only when one of these holds:

1. they fill every free slot of the batch;
2. the oldest of them would otherwise overstay its window: with sequences running, the next
   chance to join is after one more decode step, so it joins now if that step would end later
   than ``seen + w``; with nothing running, the engine sleeps until ``seen + w`` or until
   arrivals fill the batch, whichever comes first;
3. the oldest is a preempted request coming back (it has had its window).

All waiting requests that fit then join together and share one prefill pass. ``seen`` is when
the engine first saw the request: the end of the step in flight when it arrived, or its
arrival when the engine was idle. So no request waits longer than w for companions, running
sequences never pause for the window, and on a busy engine a window shorter than one decode
step changes nothing.

KV budget: see ``engine_kv.KvBudget``. Preemption evicts the newest running sequence (the last
admitted), puts it back at the front of the queue and, on readmission, prefills its prompt and
the tokens it already produced again; sent tokens are not repeated. A step that preempts
admits nobody. Injected faults (``faults.oom_rate``) fail a request at admission.

Simulated timeline (``sim_ns``): advanced by each step's priced cost and, while requests wait
on an idle engine's window, by the time waited (at most the window, however late the engine
wakes); idle time with nothing to do does not count.
Each generation's ``sim_*`` phases are measured on it, so they are identical across runs with
the same seed and the same arrivals relative to the steps (e.g. submitted together). Only
batching waits cut short by arrivals on an idle engine carry wall-clock time into it.
"""

from __future__ import annotations

from collections import deque

from agentload.reference_agent.calibration import ModelProfile
from agentload.reference_agent.engine_kv import WAIT, KvBudget
from agentload.reference_agent.engine_steps import Hold, Seq, Step, ms_to_ns
from agentload.reference_agent.inference import MODEL_OOM


class BatchScheduler:
    def __init__(
        self, profile: ModelProfile, *, max_batch: int, max_wait_ms: float, kv: KvBudget
    ) -> None:
        self.profile = profile
        self.max_batch = max_batch
        self.max_wait_ns = ms_to_ns(max_wait_ms)
        self.kv = kv
        self.arrivals: list[Seq] = []  # not yet seen
        self.waiting: deque[Seq] = deque()
        self.running: list[Seq] = []  # in admission order: the newest last
        self.sim_ns = 0
        self._hold: tuple[int, int] | None = None  # (since, until) on the schedule
        self.steps = self.tokens_generated = self.tokens_prefilled = self.finished = 0
        self.preemptions = self.ooms = 0

    def add(self, seq: Seq) -> None:
        self.arrivals.append(seq)

    def has_work(self) -> bool:
        return bool(self.arrivals or self.waiting or self.running)

    def kv_used_tokens(self) -> int:
        return sum(s.generation.kv_tokens for s in self.running)

    def plan(self, now_ns: int) -> Step | Hold | None:
        """What to do at schedule time ``now_ns``; None: nothing left to do."""
        if self._hold is not None:  # an idle window's wait is simulated time too ...
            since_ns, until_ns = self._hold
            self.sim_ns += max(0, min(now_ns, until_ns) - since_ns)  # ... a late wake-up is not
            self._hold = None
        for seq in self.arrivals:
            seq.sim_seen_ns = seq.sim_since_ns = self.sim_ns
            self.waiting.append(seq)
        self.arrivals.clear()
        self.running = [s for s in self.running if not s.generation.cancelled]
        preempted = self.kv.preempt and self._make_room(now_ns)
        admitted: list[Seq] = []
        front = self._front()
        if front is not None and not preempted:
            if self._due(front):
                admitted = self._admit(now_ns)
            elif not self.running:
                until_ns = now_ns + front.sim_since_ns + self.max_wait_ns - self.sim_ns
                self._hold = (now_ns, until_ns)
                return Hold(until_ns)
        if not self.running:
            return None
        return self._price(now_ns, admitted)

    def finish(self, step: Step) -> None:
        """The step's time has passed: every running sequence gets its token."""
        self.sim_ns += step.prefill_ns + step.decode_ns
        self.steps += 1
        still_running: list[Seq] = []
        for seq in self.running:
            generation = seq.generation
            if generation.cancelled:
                continue
            self.tokens_generated += 1
            first = generation.generated == 0
            last = generation.emit_token(step.end_ns)
            if first:
                generation.sim_ttft_ns = self.sim_ns - seq.sim_seen_ns
            if last:
                generation.sim_decode_ns += self.sim_ns - seq.sim_prefill_end_ns
                self.finished += 1
            else:
                still_running.append(seq)
        self.running = still_running

    def fail_all(self, reason: str) -> None:
        for seq in (*self.arrivals, *self.waiting, *self.running):
            seq.generation.fail(reason)
        self.arrivals.clear()
        self.waiting.clear()
        self.running.clear()

    def _front(self) -> Seq | None:
        while self.waiting and self.waiting[0].generation.cancelled:
            self.waiting.popleft()
        return self.waiting[0] if self.waiting else None

    def _due(self, front: Seq) -> bool:
        """Whether waiting requests join now (the window rules in the module docstring)."""
        if self.max_wait_ns == 0 or front.preempted_at_ns is not None:
            return True
        free_slots = self.max_batch - len(self.running)
        live = 0
        for seq in self.waiting:  # stops after free_slots live ones
            live += not seq.generation.cancelled
            if live >= free_slots:
                return True
        window_end_ns = front.sim_since_ns + self.max_wait_ns
        if not self.running:
            return self.sim_ns >= window_end_ns
        next_step_ms = self.profile.decode_step_ms(len(self.running), self.kv_used_tokens())
        return self.sim_ns + ms_to_ns(next_step_ms) > window_end_ns

    def _admit(self, now_ns: int) -> list[Seq]:
        admitted: list[Seq] = []
        free_slots = self.max_batch - len(self.running)
        free_kv = self.kv.free(self.running)
        while self.waiting and len(admitted) < free_slots:
            seq = self.waiting[0]
            if seq.generation.cancelled:
                self.waiting.popleft()
                continue
            verdict = f"{MODEL_OOM}: out of memory (injected fault)" if seq.inject_oom else None
            verdict = verdict or self.kv.verdict(seq, free_kv)
            if verdict == WAIT:
                break
            self.waiting.popleft()
            if verdict is not None:
                self._fail_oom(seq, verdict)
                continue
            free_kv -= self.kv.need(seq)
            self._join(seq, now_ns)
            admitted.append(seq)
        return admitted

    def _join(self, seq: Seq, now_ns: int) -> None:
        generation = seq.generation
        generation.sim_queue_ns += self.sim_ns - seq.sim_since_ns
        if seq.preempted_at_ns is None:
            # A request that arrived while the loop was waking up late joins at arrival.
            generation.admitted_ns = max(now_ns, generation.arrived_ns)
        else:
            generation.requeued_ns += now_ns - seq.preempted_at_ns
        self.running.append(seq)

    def _fail_oom(self, seq: Seq, reason: str) -> None:
        seq.generation.sim_queue_ns += self.sim_ns - seq.sim_since_ns
        self.ooms += 1
        seq.generation.fail(reason, MODEL_OOM)

    def _make_room(self, now_ns: int) -> bool:
        """Preempt the newest sequences until each running one can take a token."""
        needed = sum(self.kv.need(s) for s in self.running)
        preempted = False
        while self.running and needed > self.kv.tokens:
            victim = self.running.pop()
            needed -= self.kv.need(victim)
            if not self.running:  # alone and still too big: admission rules this out
                self._fail_oom(victim, f"{MODEL_OOM}: the sequence outgrew the KV cache")
                break
            generation = victim.generation
            generation.sim_decode_ns += self.sim_ns - victim.sim_prefill_end_ns
            generation.preemptions += 1
            victim.sim_since_ns = self.sim_ns
            victim.preempted_at_ns = now_ns
            self.waiting.appendleft(victim)
            self.preemptions += 1
            preempted = True
        return preempted

    def _price(self, now_ns: int, admitted: list[Seq]) -> Step:
        prompt_tokens = sum(s.generation.kv_tokens for s in admitted)  # recompute included
        prefill_ns = ms_to_ns(self.profile.prefill_ms(prompt_tokens))
        decode_ms = self.profile.decode_step_ms(len(self.running), self.kv_used_tokens())
        self.tokens_prefilled += prompt_tokens
        for seq in admitted:
            generation = seq.generation
            generation.sim_prefill_ns += prefill_ns
            seq.sim_prefill_end_ns = self.sim_ns + prefill_ns
            if seq.preempted_at_ns is None:
                assert generation.admitted_ns is not None
                generation.prefill_end_ns = max(now_ns + prefill_ns, generation.admitted_ns)
            else:
                generation.recomputed_ns += prefill_ns
                seq.preempted_at_ns = None
        return Step(now_ns, prefill_ns, ms_to_ns(decode_ms))
