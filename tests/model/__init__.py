"""Tests of the typed model."""
