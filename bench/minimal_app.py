"""The baseline for bench/unsubscribe_rate.py: the smallest Flask POST route there is."""

from flask import Flask

app = Flask(__name__)


@app.post("/ok/<token>")
def ok(token: str) -> str:
    """Answer a POST with a tiny 200, touching nothing."""
    return "ok"
