"""Tests of the server, server/: the Flask app through its test clients, and real `python -m server` processes."""
