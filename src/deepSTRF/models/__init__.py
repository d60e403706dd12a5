"""Encoding models of auditory neural responses and their building blocks."""
