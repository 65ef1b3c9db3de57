from django.contrib import admin

from .models import Fault, Heartbeat


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ("name", "component", "host", "pid", "beat_at", "lag_s", "backlog", "stopped")
    readonly_fields = [f.name for f in Heartbeat._meta.fields]


@admin.register(Fault)
class FaultAdmin(admin.ModelAdmin):
    list_display = ("summary", "kind", "component", "device", "first_seen", "last_seen", "count", "resolved_at")
    list_filter = ("kind", "component")
    readonly_fields = [f.name for f in Fault._meta.fields]
