"""The reference agent: an OpenAI-compatible service over a simulated, GPU-calibrated engine.

``calibration`` (measured costs) → ``engine`` (continuous batching, implements
``inference.InferenceEngine``) → ``app`` (HTTP) → ``server`` (uvicorn, ``serve()``).
It shares only ``agentload.protocol`` with the load side; nothing here is imported eagerly,
so ``import agentload.reference_agent`` stays cheap.
"""
