"""Helpers the tests import: configs, socket users, pictures, a real server and Chromium.

Nothing here is collected as a test and nothing here is a fixture; fixtures live in the
conftest.py of the directory whose tests use them.
"""
