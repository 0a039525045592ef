"""The pipeline worker: the camera pipelines of admitted babies, the leases that share cameras between workers, and the
`cradle worker` and `cradle queue` processes.

Kept apart from viewing/, which delivers what the worker stored to the people allowed to watch it."""
