"""The HTTP API: ``app.create_app`` builds it; ``routes`` generates one router per task."""
