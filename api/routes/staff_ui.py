"""The staff and tracking pages in one router: courier, desk, dispatcher, citizen tracking."""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import courier_ui, desk_ui, dispatcher_ui, track_ui

router = APIRouter(include_in_schema=False)
for _module in (courier_ui, desk_ui, dispatcher_ui, track_ui):
    router.include_router(_module.router)
