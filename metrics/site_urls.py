"""URLs the metrics app serves outside the dashboards' namespace: sign-in and the glossary.

Sign-in is here because where it leads depends on the dashboards' permission (``SignInView``); the glossary
because it gathers every app's vocabulary (``metrics.glossary``). ``lsis/urls.py`` includes this module.
"""

from django.urls import path

from metrics.views.pages import SignInView, glossary_page

urlpatterns = [
    # A partner who signs in lands on the API's page, never on a dashboard that refuses them.
    path("accounts/login/", SignInView.as_view(), name="login"),
    path("glossary/", glossary_page, name="glossary"),
]
