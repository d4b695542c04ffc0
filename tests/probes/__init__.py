"""Tests of slo_exporter.probes, one file per module."""
