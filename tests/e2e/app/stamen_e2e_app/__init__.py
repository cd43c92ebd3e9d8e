"""Tiny numpy FedAvg app for stamen's end-to-end test."""
