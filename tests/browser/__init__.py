"""Tests of the pages in headless Chromium against a real `python -m server`."""
