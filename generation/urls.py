from django.urls import path

from generation import operator_views

urlpatterns = [
    path("ops/training/<int:run_id>/", operator_views.training_watch, name="ops-training-watch"),
    path("ops/training/<int:run_id>/state.json", operator_views.training_state, name="ops-training-state"),
]
