"""Copy the reference geography the product needs from ../shared/data/geo into data/.

Run once by a developer (never at run time): python scripts/import_shared_geo.py ../shared/data/geo
Writes data/units/{provinces,communes,old_to_new,id_province_codes}.csv and
data/hanoi/communes.geojson (boundaries simplified to ~5 m, coordinates rounded to 6 decimals).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from shapely.geometry import mapping, shape

ROOT = Path(__file__).resolve().parents[1]


def main(src: Path) -> None:
    units = ROOT / "data" / "units"
    units.mkdir(parents=True, exist_ok=True)
    prov = json.loads((src / "vn2025_provinces.geojson").read_text(encoding="utf-8"))
    with (units / "provinces.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["code", "name", "full_name", "name_en", "label_lat", "label_lon", "commune_count"])
        for feat in sorted(prov["features"], key=lambda x: x["properties"]["code"]):
            p = feat["properties"]
            w.writerow([p["code"], p["name"], p["fullName"], p["nameEn"], p["labelLat"], p["labelLon"], p["wardCount"]])
    cols = ["ward_code", "ward_name", "ward_full_name", "ward_name_en", "ward_type", "province_code",
            "label_lat", "label_lon", "area_km2", "pre_merger_units", "admin_center_desc"]
    with (src / "vn2025_wards_centroids.csv").open(encoding="utf-8") as f, (units / "communes.csv").open(
        "w", newline="", encoding="utf-8"
    ) as g:
        r = csv.DictReader(f)
        w = csv.writer(g)
        w.writerow(["code", "name", "full_name", "name_en", "type", "province_code", "label_lat",
                    "label_lon", "area_km2", "pre_merger_units", "admin_center_desc"])
        for row in r:
            w.writerow([row[c] for c in cols])
    old_rows = list(csv.DictReader((src / "dvhcvn2025_old_to_new_flat.csv").open(encoding="utf-8")))
    with (units / "old_to_new.csv").open("w", newline="", encoding="utf-8") as g:
        w = csv.writer(g)
        w.writerow(list(old_rows[0].keys()))
        for row in old_rows:
            w.writerow(list(row.values()))
    provinces = sorted({(r["old_province_code"], r["old_province_name"]) for r in old_rows})
    with (units / "id_province_codes.csv").open("w", newline="", encoding="utf-8") as g:
        w = csv.writer(g)
        w.writerow(["id_prefix", "old_province_code", "old_province_name"])
        for code, name in provinces:
            w.writerow([f"0{code}", code, name])
    hanoi = json.loads((src / "hanoi_wards_2025.geojson").read_text(encoding="utf-8"))
    feats = []
    for feat in hanoi["features"]:
        geom = shape(feat["geometry"]).simplify(0.00005, preserve_topology=True)
        g = json.loads(json.dumps(mapping(geom)), parse_float=lambda s: round(float(s), 6))
        keep = {k: feat["properties"][k] for k in ("code", "name", "fullName", "wardType", "provinceCode", "labelLat", "labelLon", "areaKm2")}
        feats.append({"type": "Feature", "properties": keep, "geometry": g})
    out = ROOT / "data" / "hanoi" / "communes.geojson"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    road = src / "osm_hanoi_ocd_roadgraph_2023.geojson"
    (ROOT / "data" / "hanoi" / "roadgraph_ocd_2023.geojson").write_bytes(road.read_bytes())
    pts = src / "hanoi_ocd_public_service_points_osm.geojson"
    (ROOT / "data" / "hanoi" / "osm_service_points_ocd.geojson").write_bytes(pts.read_bytes())


if __name__ == "__main__":
    main(Path(sys.argv[1]))
