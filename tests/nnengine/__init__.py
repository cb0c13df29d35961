"""Tests of the engine, nnengine/: no server, no browser."""
