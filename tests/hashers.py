"""Argon2 with small parameters: the same algorithm and code path as in production, at test speed."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class QuickArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = 1
    memory_cost = 1024
    parallelism = 1
