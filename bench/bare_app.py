"""The ceiling: a bare Flask route under the same gunicorn settings as the portal."""
from flask import Flask


def create_app():
    app = Flask(__name__)

    @app.get("/")
    def hello():
        return "hello"

    return app
