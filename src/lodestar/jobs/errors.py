"""Why a job did not run.

    JobError                   a job could not be started; the scheduler logs it and goes on
     |- JobAlreadyRunning      another run of the same job is in progress (another worker,
     |                         replica or a command): skipped at info level
     '- JobNotRunnable         the job cannot run as configured (unknown, bad config): warned

A job that starts and fails does not raise: its `JobResult` says `failed`, and back-off applies.
"""

from __future__ import annotations


class JobError(Exception):
    """A job could not be started."""


class JobAlreadyRunning(JobError):
    """Another run of this job is in progress."""


class JobNotRunnable(JobError):
    """The job cannot run as it is configured; the message says how to fix it."""
