"""Shared fixtures. Each area's own fixtures live beside its tests."""
