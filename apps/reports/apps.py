from django.apps import AppConfig


class ReportsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.reports"
    verbose_name = "Reports"

    def ready(self) -> None:
        # The daily/weekly report notifications carry the equity chart as an attachment the notification
        # backends load by name (Telegram sendPhoto, email attachment).
        from apps.notifications.attachments import register

        from .charts import report_chart_attachment

        register("reports.chart", report_chart_attachment)
