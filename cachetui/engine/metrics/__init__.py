"""Metrics: the running counters and latency histograms, and their sliding window."""
