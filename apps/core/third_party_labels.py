"""Labels of third-party apps that have no Korean catalogue of their own, marked for our `locale/`.

Django REST framework ships `ko_KR` only, which Django's `ko` never loads, so its token app showed in English
in the Korean admin. Listing the strings here puts them in our catalogues (LOCALE_PATHS wins over the app's).
"""

from django.utils.translation import gettext_noop

LABELS = [
    gettext_noop("Auth Token"),
    gettext_noop("Token"),
    gettext_noop("Tokens"),
]
