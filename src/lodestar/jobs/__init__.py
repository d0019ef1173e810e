"""One job scheduler for every kind of background job (ingestion today; quality runs, usage
aggregation, alert delivery and retention next): cron schedules, a concurrency limit, run
history, back-off, and one leader per database so a due job runs once across workers."""
