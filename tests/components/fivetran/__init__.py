"""Tests of the FivetranConnector component (source 000)."""
