from django.apps import AppConfig


class WorkerConfig(AppConfig):
    name = "cradle.worker"
    label = "worker"
