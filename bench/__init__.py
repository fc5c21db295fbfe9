"""Benchmark harness: Guidegate against a bare aiohttp forwarder, nginx and mitmproxy, on loopback."""
