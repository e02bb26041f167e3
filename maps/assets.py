"""Serve Leaflet from the app instead of CDNs, so stops and lines draw without internet."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import folium

# folium's asset names -> files under the vendor directory (api/static/vendor/leaflet).
LOCAL_FILES = {
    "leaflet": "leaflet.js",
    "leaflet_css": "leaflet.css",
    "markerclusterjs": "leaflet.markercluster.js",
    "markerclustercss": "MarkerCluster.css",
    "markerclusterdefaultcss": "MarkerCluster.Default.css",
}


def _walk(element: Any) -> Iterator[Any]:
    yield element
    for child in list(element._children.values()):
        yield from _walk(child)


def use_local_assets(m: folium.Map, base: str) -> folium.Map:
    """Point every element's scripts and styles at ``base``; drop those the maps do not use.

    The maps here draw with plain Leaflet (HTML markers, no icon fonts, no jQuery or
    Bootstrap), so only Leaflet and the marker cluster plugin are kept.
    """
    for element in _walk(m):
        for attr in ("default_js", "default_css"):
            assets = getattr(element, attr, None)
            if assets is None:
                continue
            local = [
                (name, f"{base}/{LOCAL_FILES[name]}") for name, _ in assets if name in LOCAL_FILES
            ]
            setattr(element, attr, local)
    return m
