"""What serving records for the team that runs it: the prediction log and feedback,
read by ``aiaas monitor``. Writing never slows the request path."""
