import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cradle.settings")
application = get_wsgi_application()

from django.core.exceptions import ImproperlyConfigured  # noqa: E402

from cradle.media.store import MasterKeyError, StoreError  # noqa: E402
from cradle.viewing.storage import segment_store  # noqa: E402

try:
    segment_store()  # serve nothing without the right master key and a usable store
except (MasterKeyError, StoreError) as e:
    raise ImproperlyConfigured(str(e)) from None
