"""URLs of the board dashboards (namespace ``dashboards``)."""

from django.urls import path

from metrics import views

app_name = "dashboards"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("breakdown/<slug:scope_type>/", views.breakdown, name="breakdown"),
    path("scope/<slug:scope_type>/<str:scope_key>/", views.scope_detail, name="scope"),
    path("commitments/<str:reference>/", views.commitment_detail, name="commitment"),
    path("changes/", views.changes, name="changes"),
    path("funding/", views.funding, name="funding"),
    path("open-data/", views.releases, name="releases"),
    path("search/", views.search, name="search"),
    path("tasks/", views.tasks, name="tasks"),
    path("board-pack/", views.board_pack, name="board_pack"),
    path("board-pack/pdf/", views.board_pack_pdf, name="board_pack_pdf"),
]
