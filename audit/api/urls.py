from rest_framework.routers import SimpleRouter

from audit.api.views import LogEntryViewSet, SealViewSet

app_name = "audit-api"

router = SimpleRouter()
router.register("records", LogEntryViewSet, basename="record")
router.register("seals", SealViewSet, basename="seal")
urlpatterns = router.urls
