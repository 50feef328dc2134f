"""Settings package.

``base`` holds what every environment shares; ``local``, ``test`` and ``production`` adjust it.
``DJANGO_SETTINGS_MODULE`` chooses one (``manage.py`` defaults to local).
"""
