import pytest

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


def test_sign_in_failure_and_sign_out_are_audit_events(client, django_user_model, audit_log):
    django_user_model.objects.create_user(username="ann", password="a-long-password-1", is_staff=True)

    client.post("/admin/login/", {"username": "ann", "password": "wrong"}, REMOTE_ADDR="10.1.2.3")
    client.post("/admin/login/", {"username": "ann", "password": "a-long-password-1"})
    client.post("/admin/logout/")

    events = list(audit_log.order_by("seq").values_list("event_type", "actor_username"))
    assert events == [("auth.login_failed", "ann"), ("auth.login", "ann"), ("auth.logout", "ann")]
    failed = audit_log.get(event_type="auth.login_failed")
    assert failed.source_ip == "10.1.2.3"
