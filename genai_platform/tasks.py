from celery import Task, shared_task


@shared_task(bind=True, name="platform.heartbeat", ignore_result=True, soft_time_limit=20, time_limit=30)
def heartbeat_task(self: Task, *, queue: str) -> None:
    """Record that a worker consumes ``queue``; sent to each queue by the scheduler."""
    from genai_platform.services import heartbeat_record

    heartbeat_record(queue=queue, hostname=self.request.hostname or "", task_id=self.request.id or "")
