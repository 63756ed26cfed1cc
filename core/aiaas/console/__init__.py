"""The console: web pages for the people who run aiaas, served by the same process at ``/console``
(``aiaas.console.pages``), signed in with an API key kept as a session (``aiaas.console.session``)."""
