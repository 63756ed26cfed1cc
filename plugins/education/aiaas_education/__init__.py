"""aiaas-education: knowledge tracing on learners ' answer logs."""
