"""The orchestrator's domain: triggering CI jobs for resume requests and following them.

- platforms / jenkins / concourse / generic: the CI clients (URLs and credentials from settings)
- dispatch: claim pending requests with a lease and trigger each exactly once, with retries
- follow: poll or accept job status, move request and build job, detect stalls
- auto_resume: file `request_source: auto` requests for retryable failures
- inbound: the inbound webhook payloads (build failure, Jenkins, Concourse)
"""
