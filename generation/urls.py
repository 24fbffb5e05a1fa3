from django.urls import path

from generation import operator_views, views

urlpatterns = [
    path("ops/training/<int:run_id>/", operator_views.training_watch, name="ops-training-watch"),
    path("ops/training/<int:run_id>/state.json", operator_views.training_state, name="ops-training-state"),
    path("ops/training/epochs/<int:epoch_id>/samples.png", operator_views.training_samples, name="ops-samples"),
    # End users: accounts.
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", views.LogoutView.as_view(), name="logout"),
    path("accounts/password/change/", views.password_change, name="password-change"),
    path("accounts/password/change/done/", views.password_change_done, name="password-change-done"),
    path("accounts/password/reset/", views.password_reset, name="password-reset"),
    path("accounts/password/reset/sent/", views.password_reset_done, name="password-reset-done"),
    path("accounts/reset/<uidb64>/<token>/", views.password_reset_confirm, name="password-reset-confirm"),
    path("accounts/reset/done/", views.password_reset_complete, name="password-reset-complete"),
    path("account/", views.account, name="account"),
    path("account/phone/", views.phone_verify, name="phone-verify"),
    path("account/guardian/", views.guardian_consent, name="guardian-consent"),
    # End users: generating, following, downloading, reporting.
    path("generate/", views.generate, name="generate"),
    path("jobs/<uuid:public_id>/", views.job_detail, name="job"),
    path("jobs/<uuid:public_id>/live/", views.job_status, name="job-live"),
    path("jobs/<uuid:public_id>/cancel/", views.job_cancel_view, name="job-cancel"),
    path("outputs/<str:produce_id>/file/", views.output_file, name="output-file"),
    path("outputs/<str:produce_id>/report/", views.output_report, name="output-report"),
    path("history/", views.history, name="history"),
    # The service's notices.
    path("terms/", views.terms, name="terms"),
    path("privacy/", views.privacy, name="privacy"),
    path("terms/accept/", views.terms_accept_view, name="terms-accept"),
    path("complaints/", views.complaints, name="complaints"),
    path("complaints/track/", views.complaint_track, name="complaint-track"),
]
