from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("ops/admin/", admin.site.urls),
    path("dashboard/", include("tests.dashboard.example_project.hostdash.urls")),
    path("ops/tools/queues/", include("dashboard.urls")),
]
