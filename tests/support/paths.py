"""Where the project is on disk, for tests that start `python -m ...` or read its files."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
